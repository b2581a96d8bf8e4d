// The decoder's steady path makes no heap allocation (issue 27): once a thread's review document
// (parser, string buffer, pools) has served one body, decoding the next one allocates nothing.
// Counted by the executable's replaced global operator new (simdjson's buffers, the document
// itself), plus the pools' capacity (RapidJSON's pools take further chunks with malloc, not
// operator new).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "admission/codec.hpp"
#include "admission/review_document.hpp"
#include "tests/alloc/counting_allocator.hpp"
#include "tests/support/files.hpp"
#include "tests/support/review_fixtures.hpp"

namespace {

using mlnetpol::admission::parse_review_document;
using mlnetpol::admission::review_body_padding;
namespace alloc = mlnetpol::testing::alloc;

// The body as the server holds it: padding readable after it, so it is read in place.
struct padded_body {
  explicit padded_body(const std::string& body) : text(body), size(body.size()) {
    text.resize(size + review_body_padding, ' ');
  }
  std::string_view view() const { return {text.data(), size}; }
  std::string text;
  std::size_t size;
};

using document_ptr = std::shared_ptr<mlnetpol::admission::review_document>;

// The heap allocations this thread makes while decoding body into document.
std::uint64_t allocations_of(const padded_body& body, document_ptr& document) {
  const std::uint64_t before = alloc::count();
  {
    alloc::counting_scope counting;
    document = parse_review_document(body.view(), review_body_padding);
  }
  return alloc::count() - before;
}

}  // namespace

TEST_CASE("a reused review document decodes a review without a heap allocation") {
  std::vector<padded_body> bodies;
  std::size_t largest = 0;
  // The captured reviews and the benchmark's bodies (the 30 KB Deployment among them).
  auto paths = mlnetpol::testing::review_fixtures();
  for (const char* name :
       {"pod-create-training.json", "namespace-create.json", "deployment-create-30k.json"}) {
    paths.push_back(std::filesystem::path(MLNETPOL_SOURCE_DIR) / "bench" / "bodies" / name);
  }
  for (const auto& path : paths) {
    bodies.emplace_back(mlnetpol::testing::read_required(path));
    if (bodies.back().size > bodies[largest].size) largest = bodies.size() - 1;
  }
  REQUIRE_FALSE(bodies.empty());
  // The first body a thread sees sizes its parser and buffers (the largest one here).
  REQUIRE(parse_review_document(bodies[largest].view(), review_body_padding) != nullptr);
  for (const auto& body : bodies) {
    CAPTURE(body.text.substr(0, 120));
    document_ptr document;
    CHECK(allocations_of(body, document) == 0);
    REQUIRE(document != nullptr);
    // Neither pool took a chunk beyond the one inside the document.
    CHECK(document->pool.Capacity() <= sizeof document->first_chunk);
    CHECK(document->stack_pool.Capacity() <= sizeof document->stack_chunk);
  }
  // The count sees allocations: a document still held makes the next parse build a new one.
  const auto held = parse_review_document(bodies.front().view(), review_body_padding);
  document_ptr second;
  CHECK(allocations_of(bodies.front(), second) > 0);
  CHECK(second != nullptr);
}
