// The decoder's steady path makes no heap allocation (issue 27): once a thread's review document
// (parser, string buffer, pools) has served one body, decoding the next one allocates nothing.
// Counted with a replaced global operator new (simdjson's buffers, the document itself) plus the
// pools' capacity (RapidJSON's pools take further chunks with malloc, not operator new).
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "admission/codec.hpp"
#include "admission/review_document.hpp"
#include "tests/admission/test_support.hpp"

// Under ASan the sanitizer owns operator new (simdjson's shared library allocates through it), so a
// replacement here would free what it did not allocate; the count is checked in the plain build.
#if !defined(__SANITIZE_ADDRESS__)

namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using mlnetpol::admission::parse_review_document;
using mlnetpol::admission::review_body_padding;
using mlnetpol::admission::testing::read_file;
using mlnetpol::admission::testing::review_fixtures;

// The body as the server holds it: padding readable after it, so it is read in place.
struct padded_body {
  explicit padded_body(const std::string& body) : text(body), size(body.size()) {
    text.resize(size + review_body_padding, ' ');
  }
  std::string_view view() const { return {text.data(), size}; }
  std::string text;
  std::size_t size;
};

}  // namespace

TEST_CASE("a reused review document decodes a review without a heap allocation") {
  std::vector<padded_body> bodies;
  std::size_t largest = 0;
  // The captured reviews and the benchmark's bodies (the 30 KB Deployment among them).
  auto paths = review_fixtures();
  for (const char* name :
       {"pod-create-training.json", "namespace-create.json", "deployment-create-30k.json"}) {
    paths.push_back(std::filesystem::path(MLNETPOL_SOURCE_DIR) / "bench" / "bodies" / name);
  }
  for (const auto& path : paths) {
    bodies.emplace_back(read_file(path));
    if (bodies.back().size > bodies[largest].size) largest = bodies.size() - 1;
  }
  REQUIRE_FALSE(bodies.empty());
  // The first body a thread sees sizes its parser and buffers (the largest one here).
  REQUIRE(parse_review_document(bodies[largest].view(), review_body_padding) != nullptr);
  for (const auto& body : bodies) {
    CAPTURE(body.text.substr(0, 120));
    allocations = 0;
    counting = true;
    const auto document = parse_review_document(body.view(), review_body_padding);
    counting = false;
    REQUIRE(document != nullptr);
    CHECK(allocations == 0);
    // Neither pool took a chunk beyond the one inside the document.
    CHECK(document->pool.Capacity() <= sizeof document->first_chunk);
    CHECK(document->stack_pool.Capacity() <= sizeof document->stack_chunk);
  }
  // The count sees allocations: a document still held makes the next parse build a new one.
  const auto held = parse_review_document(bodies.front().view(), review_body_padding);
  allocations = 0;
  counting = true;
  const auto second = parse_review_document(bodies.front().view(), review_body_padding);
  counting = false;
  CHECK(second != nullptr);
  CHECK(allocations > 0);
}

#endif  // !defined(__SANITIZE_ADDRESS__)
