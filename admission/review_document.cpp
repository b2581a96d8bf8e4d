#include "admission/review_document.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <utility>

#include <simdjson.h>

#include "common/json_parse.hpp"

namespace mlnetpol::admission {
namespace ondemand = simdjson::ondemand;

namespace detail {
struct parser_holder {
  ondemand::parser parser;
  // A body the caller could not pad is copied here (grown, never shrunk while kept).
  std::unique_ptr<char[]> copy;
  std::size_t copy_capacity = 0;
  // The kept keys and strings, unescaped and NUL-terminated (see builder).
  std::unique_ptr<std::uint8_t[]> strings;
  std::size_t strings_capacity = 0;
};
void parser_holder_deleter::operator()(parser_holder* p) const {
  delete p;
}
}  // namespace detail

namespace {

static_assert(review_body_padding >= simdjson::SIMDJSON_PADDING);

// The stage-1 index (where every bracket, comma, colon, string and scalar starts) of the last
// body an On-Demand parser saw. simdjson 3.0.1 keeps the parser's implementation private; an
// explicit instantiation may name a private member (the standard exempts it from access checks),
// which is how this reads the index stage 1 has already built instead of building it again.
using implementation_ptr =
    std::unique_ptr<simdjson::internal::dom_parser_implementation> ondemand::parser::*;
implementation_ptr parser_implementation();
template <implementation_ptr member>
struct implementation_access {
  friend implementation_ptr parser_implementation() { return member; }
};
template struct implementation_access<&ondemand::parser::implementation>;

// The structural checks the skipped subtrees get, over stage 1's index in one pass without
// recursion: brackets balanced and matched ('[' closes with ']'), nesting no deeper than
// json::default_max_depth (counted as the RapidJSON parse counts it: the root is depth 1), and
// nothing after the root value. On-Demand itself only counts brackets when it steps over a value
// (so `[}` would balance), never checks the depth of what it steps over, and does not look past
// the root object's closing brace. stage 1 has already checked UTF-8, unescaped control
// characters and unclosed strings. A root that is no object fails here (RapidJSON names it).
// And no backslash outside a string: stage 1 takes `\"` for an escaped quote wherever it is, so
// one in a scalar would shift where strings begin and end against what JSON says (scalars are a
// few bytes each: numbers and literals).
bool structurally_whole(const std::uint8_t* text, std::size_t size, const std::uint32_t* index,
                        std::uint32_t n) {
  constexpr unsigned max_depth = json::default_max_depth;
  if (n == 0 || text[index[0]] != '{') return false;
  std::uint64_t is_object[(max_depth + 63) / 64] = {};  // one bit per open container
  unsigned depth = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint8_t c = text[index[i]];
    switch (c) {
      case '"':
      case ',':
      case ':':
        break;
      case '{':
      case '[': {
        if (depth == max_depth) return false;
        const std::uint64_t bit = std::uint64_t{1} << (depth % 64);
        is_object[depth / 64] =
            c == '{' ? is_object[depth / 64] | bit : is_object[depth / 64] & ~bit;
        ++depth;
        break;
      }
      case '}':
      case ']': {
        if (depth == 0) return false;
        --depth;
        const bool open_object = (is_object[depth / 64] >> (depth % 64)) & 1;
        if (open_object != (c == '}')) return false;
        // The root object is closed: it must be the last thing in the body.
        if (depth == 0) return i + 1 == n;
        break;
      }
      default: {  // a scalar: its few bytes, up to the next structural
        const std::uint8_t* const end = text + (i + 1 < n ? index[i + 1] : size);
        for (const std::uint8_t* p = text + index[i]; p < end; ++p) {
          if (*p == '\\') return false;
        }
      }
    }
  }
  return false;  // the root object is never closed
}

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

// Builds the kept values: a RapidJSON document whose parse stack lives in a pool of its own (the
// stack survives between requests, where rapidjson::Document's would be malloc'd and freed by
// every Populate); the finished root is then moved into the review's rapidjson::Document.
using builder_document =
    rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                               rapidjson::MemoryPoolAllocator<>>;

// Walks the On-Demand document in document order, once, and emits the kept values as SAX events
// into the builder, which stacks them and moves each finished container into the pool in one
// piece. A member no decision reads is never asked for its value: On-Demand steps over it on its
// stage-1 index when the walk moves to the next member.
//
// Keys and strings are not copied into the pool: each is unescaped (and so validated) once, into
// the review_document's own string buffer, and NUL-terminated there as RapidJSON's readers expect;
// the document points into that buffer. The buffer lives in the review_document next to the
// document and is not written again until nobody holds that document (reusable_document below),
// so the strings live exactly as long as anyone can read them. A dropped key's bytes are reused.
class builder {
 public:
  builder(builder_document& out, const ondemand::parser& parser, std::uint8_t* strings)
      : out_(out), parser_(parser), dst_(strings) {}

  // Recursion is bounded: structurally_whole has already refused bodies nested deeper than
  // json::default_max_depth.
  bool value(ondemand::value in, place where) {
    ondemand::json_type type;
    if (in.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
      case ondemand::json_type::object: {
        ondemand::object object;
        if (in.get_object().get(object) != simdjson::SUCCESS) return false;
        return members(object, where);
      }
      case ondemand::json_type::array: {
        ondemand::array array;
        if (in.get_array().get(array) != simdjson::SUCCESS) return false;
        return elements(array);
      }
      case ondemand::json_type::string: {
        ondemand::raw_json_string raw;
        std::string_view s;
        if (in.get_raw_json_string().get(raw) != simdjson::SUCCESS || !unescape(raw, s)) {
          return false;
        }
        return out_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), false);
      }
      case ondemand::json_type::number: {
        ondemand::number n;
        if (in.get_number().get(n) != simdjson::SUCCESS) return false;
        switch (n.get_number_type()) {
          case ondemand::number_type::signed_integer:
            return out_.Int64(n.get_int64());
          case ondemand::number_type::unsigned_integer:
            return out_.Uint64(n.get_uint64());
          case ondemand::number_type::floating_point_number: {
            // RapidJSON refuses a zero whose exponent is past its range ("0e400", valid JSON)
            // where simdjson reads 0: a kept floating-point zero goes to RapidJSON, so the fast
            // path never reads a kept value differently. Rare in reviews (a plain 0 is an integer).
            const double d = n.get_double();
            if (d == 0) return false;
            return out_.Double(d);
          }
        }
        return false;
      }
      case ondemand::json_type::boolean: {
        bool b = false;
        if (in.get_bool().get(b) != simdjson::SUCCESS) return false;
        return out_.Bool(b);
      }
      case ondemand::json_type::null: {
        bool is_null = false;
        if (in.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return false;
        return out_.Null();
      }
    }
    return false;
  }

  bool members(ondemand::object object, place where) {
    out_.StartObject();
    rapidjson::SizeType count = 0;
    for (auto member : object) {
      ondemand::field field;
      if (std::move(member).get(field) != simdjson::SUCCESS) return false;
      std::uint8_t* const key_start = dst_;
      std::string_view key;
      if (!unescape(field.key(), key)) return false;
      const place inner = child_place(where, key);
      if (inner == place::dropped) {
        dst_ = key_start;
        continue;  // its value is stepped over by the next iteration
      }
      out_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()), false);
      if (!value(field.value(), inner)) return false;
      ++count;
    }
    return out_.EndObject(count);
  }

  // Where an object is expected an array is kept whole: the readers see it is no object.
  bool elements(ondemand::array array) {
    out_.StartArray();
    rapidjson::SizeType count = 0;
    for (auto element : array) {
      ondemand::value item;
      if (std::move(element).get(item) != simdjson::SUCCESS) return false;
      if (!value(item, place::all)) return false;
      ++count;
    }
    return out_.EndArray(count);
  }

 private:
  // Unescapes (validating the escapes; stage 1 checked UTF-8 and control characters) and
  // terminates one string in the string buffer.
  bool unescape(ondemand::raw_json_string raw, std::string_view& out) {
    if (parser_.unescape(raw, dst_).get(out) != simdjson::SUCCESS) return false;
    *dst_++ = '\0';
    return true;
  }

  builder_document& out_;
  const ondemand::parser& parser_;
  std::uint8_t* dst_;
};

// A document (and its parser) grown by one huge body gives the memory back instead of being kept
// for the thread's next request.
constexpr std::size_t kept_parser_capacity = 1 << 20;
constexpr std::size_t min_capacity = 64 * 1024;

// The last document this thread made, reused once nobody holds it any more (the request it served
// is answered): no allocation per request for the document, its pools' first chunks, the parser
// and the parser's buffers.
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

review_document::review_document()
    : pool(first_chunk, sizeof first_chunk, sizeof first_chunk),
      stack_pool(stack_chunk, sizeof stack_chunk, sizeof stack_chunk),
      document(&pool) {}

std::shared_ptr<review_document> parse_review_document(std::string_view body, std::size_t padding) {
  std::shared_ptr<review_document> out = reusable_document();
  if (!out->parser) out->parser.reset(new detail::parser_holder);
  detail::parser_holder& holder = *out->parser;
  if (padding < simdjson::SIMDJSON_PADDING) {
    if (holder.copy_capacity < body.size() + simdjson::SIMDJSON_PADDING) {
      holder.copy_capacity = std::max(body.size(), min_capacity) + simdjson::SIMDJSON_PADDING;
      holder.copy.reset(new char[holder.copy_capacity]);
    }
    std::memcpy(holder.copy.get(), body.data(), body.size());
    body = std::string_view(holder.copy.get(), body.size());
    padding = holder.copy_capacity - body.size();
  }
  // Buffers start at min_capacity so bodies of varying size do not regrow them one after another.
  const std::size_t capacity = std::max(body.size(), min_capacity);
  // Each kept string takes at most its raw bytes (the quotes make room for the NUL); simdjson's
  // unescaper writes whole blocks, up to 64 bytes past the last string.
  if (holder.strings_capacity < body.size() + 2 * simdjson::SIMDJSON_PADDING) {
    holder.strings_capacity = capacity + 2 * simdjson::SIMDJSON_PADDING;
    holder.strings.reset(new std::uint8_t[holder.strings_capacity]);
  }
  ondemand::parser& parser = holder.parser;
  if (parser.capacity() < body.size() && parser.allocate(capacity) != simdjson::SUCCESS) {
    return nullptr;
  }
  bool kept = false;
  ondemand::document doc;
  // Stage 1 (UTF-8, unescaped control characters, unclosed strings; the structural index).
  if (parser.iterate(body.data(), body.size(), body.size() + padding).get(doc) ==
      simdjson::SUCCESS) {
    const auto& index = *(parser.*parser_implementation());
    ondemand::object root;
    if (structurally_whole(reinterpret_cast<const std::uint8_t*>(body.data()), body.size(),
                           index.structural_indexes.get(), index.n_structural_indexes) &&
        doc.get_object().get(root) == simdjson::SUCCESS) {
      out->stack_pool.Clear();  // the last build's stack was given back to it
      builder_document built(&out->pool, sizeof out->stack_chunk / 2, &out->stack_pool);
      auto generate = [&](builder_document& d) {
        return builder(d, parser, holder.strings.get()).members(root, place::envelope);
      };
      built.Populate(generate);
      if (built.IsObject()) {
        static_cast<rapidjson::Value&>(out->document) = static_cast<rapidjson::Value&>(built);
        kept = true;
      }
    }
  }
  // One huge document is not kept for the thread's next request.
  if (parser.capacity() > kept_parser_capacity || holder.copy_capacity > kept_parser_capacity ||
      holder.strings_capacity > kept_parser_capacity ||
      last->pool.Capacity() > kept_parser_capacity) {
    last.reset();
  }
  return kept ? out : nullptr;
}

}  // namespace mlnetpol::admission
