#include "common/json_parse.hpp"

#include <cstdint>
#include <cstring>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "common/json_sax.hpp"

namespace mlnetpol::json {
namespace {

// RapidJSON's InsituStringStream, as our own type: RapidJSON's SSE4.2 whitespace skipping is
// specialized for its own stream types and would need -msse4.2 whenever RAPIDJSON_SSE42 is defined.
// Compact JSON from the API server has no whitespace to skip anyway.
class insitu_stream {
 public:
  using Ch = char;
  explicit insitu_stream(char* text) : src_(text), head_(text) {}
  char Peek() const { return *src_; }
  char Take() { return *src_++; }
  std::size_t Tell() const { return static_cast<std::size_t>(src_ - head_); }
  char* PutBegin() { return dst_ = src_; }
  void Put(char c) { *dst_++ = c; }
  std::size_t PutEnd(char* begin) { return static_cast<std::size_t>(dst_ - begin); }
  char* Push(std::size_t count) {
    char* begin = dst_;
    dst_ += count;
    return begin;
  }
  void Pop(std::size_t count) { dst_ -= count; }
  void Flush() {}

 private:
  char* src_;
  char* head_;
  char* dst_ = nullptr;
};

}  // namespace
}  // namespace mlnetpol::json

namespace rapidjson {
// Lets the reader work on a local copy of the stream's pointers, as for InsituStringStream.
template <>
struct StreamTraits<mlnetpol::json::insitu_stream> {
  enum { copyOptimization = 1 };
};
}  // namespace rapidjson

namespace mlnetpol::json {
namespace {

// Iterative: the reader keeps its own stack instead of recursing per nesting level.
constexpr unsigned base_flags = rapidjson::kParseIterativeFlag;

template <unsigned flags, typename Stream>
result<void> run(rapidjson::Document& document, Stream& stream, std::string_view text,
                 const parse_options& options) {
  document.SetNull();
  // RapidJSON's sizes and offsets are 32-bit.
  if (text.size() >= 0xFFFFFFF0u) return fail("JSON text too large");
  // UTF-8 is checked up front rather than by the reader: a word-at-a-time pass over (typically
  // all-ASCII) Kubernetes JSON costs far less than RapidJSON's per-character validation.
  if (options.validate_utf8) {
    if (const auto bad = find_invalid_utf8(text)) {
      return fail("invalid UTF-8 at offset " + std::to_string(*bad));
    }
  }
  depth_limited_handler handler(document, options.max_depth);
  rapidjson::ParseResult result;
  // Populate runs the reader with the document as the event sink and keeps the document's own
  // value stack and allocator; on failure nothing is moved into the document.
  auto generate = [&](rapidjson::Document&) {
    // A shared (stateless) CrtAllocator spares the reader allocating one of its own per parse.
    static rapidjson::CrtAllocator stack_allocator;
    rapidjson::Reader reader(&stack_allocator);
    result = reader.Parse<flags>(stream, handler);
    // The reader takes a NUL byte for the end of input; whatever follows one must not be ignored.
    if (!result.IsError() && stream.Tell() != text.size()) {
      result.Set(rapidjson::kParseErrorDocumentRootNotSingular, stream.Tell());
    }
    return !result.IsError();
  };
  document.Populate(generate);
  if (!result.IsError()) return {};
  if (handler.too_deep()) {
    return fail("JSON nesting deeper than " + std::to_string(options.max_depth) + " at offset " +
                std::to_string(result.Offset()));
  }
  return fail("invalid JSON at offset " + std::to_string(result.Offset()) + ": " +
              rapidjson::GetParseError_En(result.Code()));
}

}  // namespace

const char* json_type_name(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    while (n - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, sizeof word);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i == n) break;
    const unsigned char lead = p[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::uint32_t smallest = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
      smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
      smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
      smallest = 0x10000;
    } else {
      return i;
    }
    if (n - i < length) return i;
    for (std::size_t k = 1; k < length; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      code_point = (code_point << 6) | (p[i + k] & 0x3F);
    }
    if (code_point < smallest || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += length;
  }
  return std::nullopt;
}

result<void> parse(rapidjson::Document& document, std::string_view text,
                   const parse_options& options) {
  rapidjson::MemoryStream stream(text.data(), text.size());
  return run<base_flags>(document, stream, text, options);
}

result<void> parse_insitu(rapidjson::Document& document, char* text, std::size_t size,
                          const parse_options& options) {
  insitu_stream stream(text);
  return run<base_flags | rapidjson::kParseInsituFlag>(document, stream, {text, size}, options);
}

}  // namespace mlnetpol::json
