#include "admission/review_document.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include <simdjson.h>

#include "common/json_parse.hpp"

namespace mlnetpol::admission {
namespace {

using rapidjson::Value;
namespace dom = simdjson::dom;

static_assert(review_body_padding >= simdjson::SIMDJSON_PADDING);

// Where a value sits: each place keeps the members a decision can read (the codec's request
// fields; the label engine's and the patch builder's paths, policy/labels.cpp and
// policy/engine.cpp) and drops the rest. `all` keeps a whole subtree.
enum class place {
  envelope,
  request,
  all,
  object,
  metadata,
  spec,
  job_template,
  replica_specs,
  replica,
  dropped
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The place of member `key` of an object at `parent`; dropped when no decision reads it.
place child_place(place parent, std::string_view key) {
  switch (parent) {
    case place::envelope:
      if (key == "request") return place::request;
      return key == "apiVersion" || key == "kind" ? place::all : place::dropped;
    case place::request:
      if (key == "object" || key == "oldObject") return place::object;
      return key == "uid" || key == "kind" || key == "resource" || key == "subResource" ||
                     key == "operation" || key == "namespace" || key == "name" ||
                     key == "userInfo" || key == "dryRun"
                 ? place::all
                 : place::dropped;
    case place::all:
      return place::all;
    case place::object:  // request.object/oldObject, or a pod template inside one
      if (key == "metadata") return place::metadata;
      if (key == "spec") return place::spec;
      if (key == "specs") return place::all;  // a CiliumNetworkPolicy's rule sets (guardrails)
      return key == "apiVersion" || key == "kind" ? place::all : place::dropped;
    case place::metadata:
      return key == "name" || key == "generateName" || key == "namespace" || key == "labels" ||
                     key == "annotations" || key == "ownerReferences"
                 ? place::all
                 : place::dropped;
    case place::spec:  // hostNetwork, a policy's rules, and the ways down to pod templates
      // ingress/egress: the rules of a NetworkPolicy or CiliumNetworkPolicy (policy/guardrails).
      // schedulingGates: the scheduling gate (policy/scheduling_gate.hpp).
      // labels/annotations: a TrainJob's label site (policy/kinds.cpp, labels_at_path).
      if (key == "hostNetwork" || key == "ingress" || key == "egress" || key == "schedulingGates" ||
          key == "labels" || key == "annotations") {
        return place::all;
      }
      if (key == "template") return place::object;
      if (key == "jobTemplate") return place::job_template;
      return ends_with(key, "ReplicaSpecs") ? place::replica_specs : place::dropped;
    case place::job_template:
      return key == "spec" ? place::spec : place::dropped;
    case place::replica_specs:
      return place::replica;
    case place::replica:
      return key == "template" ? place::object : place::dropped;
    case place::dropped:
      return place::dropped;
  }
  return place::dropped;
}

// Replays the kept parts of simdjson's tape as SAX events into a RapidJSON document, which
// stacks values and moves each finished container into its pool in one piece. Keys and strings
// point into the parser's string buffer, which the document owns.
class converter {
 public:
  explicit converter(rapidjson::Document& out) : out_(out) {}

  // Recursion is bounded: simdjson has already rejected documents nested deeper than
  // json::default_max_depth.
  bool emit(dom::element in, place where) {
    switch (in.type()) {
      case dom::element_type::OBJECT: {
        out_.StartObject();
        rapidjson::SizeType members = 0;
        dom::object object;  // a copy: value_unsafe() of a temporary result would dangle
        if (in.get(object) != simdjson::SUCCESS) return false;
        for (const dom::key_value_pair field : object) {
          const place inner = child_place(where, field.key);
          if (inner == place::dropped) continue;
          out_.Key(field.key.data(), static_cast<rapidjson::SizeType>(field.key.size()), false);
          emit(field.value, inner);
          ++members;
        }
        return out_.EndObject(members);
      }
      case dom::element_type::ARRAY: {
        out_.StartArray();
        rapidjson::SizeType elements = 0;
        // Where an object is expected an array is kept whole: the readers see it is no object.
        const place inner = place::all;
        dom::array array;
        if (in.get(array) != simdjson::SUCCESS) return false;
        for (const dom::element item : array) {
          emit(item, inner);
          ++elements;
        }
        return out_.EndArray(elements);
      }
      case dom::element_type::STRING: {
        const std::string_view s = in.get_string().value_unsafe();
        return out_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), false);
      }
      case dom::element_type::INT64:
        return out_.Int64(in.get_int64().value_unsafe());
      case dom::element_type::UINT64:
        return out_.Uint64(in.get_uint64().value_unsafe());
      case dom::element_type::DOUBLE:
        return out_.Double(in.get_double().value_unsafe());
      case dom::element_type::BOOL:
        return out_.Bool(in.get_bool().value_unsafe());
      case dom::element_type::NULL_VALUE:
        return out_.Null();
    }
    return out_.Null();
  }

 private:
  rapidjson::Document& out_;
};

// Whether the tape holds a floating-point zero. RapidJSON refuses a zero whose exponent is past its
// range ("0e400", valid JSON) where simdjson reads 0: such bodies go to RapidJSON, so the fast
// path never takes a body RapidJSON refuses. Rare in reviews (a plain 0 is an integer).
// Every word is tested, without branches or a chain from one word to the next (stepping by each
// value's width made the scan cost more than simdjson's parse): a number's payload word whose top
// byte happens to be 'd' is followed by a tag word, whose type byte keeps it non-zero.
__attribute__((target_clones("arch=icelake-server", "avx2", "default"))) bool has_double_zero(
    const dom::document& doc) {
  const std::uint64_t* tape = doc.tape.get();
  constexpr std::uint64_t payload = (std::uint64_t{1} << 56) - 1;
  const std::uint64_t end = tape[0] & payload;  // the root's closing word
  std::uint64_t found = 0;
  for (std::uint64_t i = 1; i < end; ++i) {
    const bool is_double = (tape[i] >> 56) == 'd';
    const bool zero = (tape[i + 1] << 1) == 0;  // +0.0 or -0.0
    found |= static_cast<std::uint64_t>(is_double & zero);
  }
  return found != 0;
}

// Stateless; shared so no document allocates an allocator of its own for its parse stack.
rapidjson::CrtAllocator stack_allocator;

// A document (and its parser) grown by one huge body gives the memory back instead of being kept
// for the thread's next request.
constexpr std::size_t kept_parser_capacity = 1 << 20;

// The last document this thread made, reused once nobody holds it any more (the request it served
// is answered): an 8 KiB allocation and free per request otherwise, whose free coalesces with the
// heap's top and makes glibc consolidate its fast bins every time.
thread_local std::shared_ptr<review_document> last;

std::shared_ptr<review_document> reusable_document() {
  if (last && last.use_count() == 1) {
    // Pairs with the release of the last other owner, so its reads happen before the reuse.
    std::atomic_thread_fence(std::memory_order_acquire);
    last->document.SetNull();
    last->pool.Clear();  // keeps the first chunk, frees any chunk a large document added
    return last;
  }
  last = std::make_shared<review_document>();
  return last;
}

}  // namespace

namespace detail {
struct parser_holder {
  dom::parser parser;
};
void parser_holder_deleter::operator()(parser_holder* p) const {
  delete p;
}
}  // namespace detail

review_document::review_document()
    : pool(first_chunk, sizeof first_chunk, sizeof first_chunk),
      // The parse stack is allocated and freed by every Populate: 1 KiB holds a pod review's open
      // containers and stays within glibc's per-thread cache, where 4 KiB made each request a
      // large allocation that consolidates the heap's fast bins first.
      document(&pool, 1024, &stack_allocator) {}

std::shared_ptr<review_document> parse_review_document(std::string_view body, std::size_t padding) {
  std::shared_ptr<review_document> out = reusable_document();
  if (!out->parser) out->parser.reset(new detail::parser_holder);
  dom::parser& parser = out->parser->parser;
  // A new parser (or one whose allocation failed) would otherwise grow with simdjson's own depth.
  if (parser.max_depth() != json::default_max_depth &&
      parser.allocate(std::max<std::size_t>(parser.capacity(), 64 * 1024),
                      json::default_max_depth) != simdjson::SUCCESS) {
    return nullptr;
  }
  const bool copy = padding < simdjson::SIMDJSON_PADDING;
  const auto parsed = parser.parse(body.data(), body.size(), copy);
  if (parsed.error() || has_double_zero(parser.doc)) {
    out = nullptr;
  } else {
    const dom::element root = parsed.value_unsafe();
    auto generate = [root](rapidjson::Document& document) {
      return converter(document).emit(root, place::envelope);
    };
    out->document.Populate(generate);
  }
  // One huge document is not kept for the thread's next request.
  if (parser.capacity() > kept_parser_capacity || last->pool.Capacity() > kept_parser_capacity) {
    last.reset();
  }
  return out;
}

}  // namespace mlnetpol::admission
