#pragma once
// Bounded JSON parsing for untrusted input (admission bodies, config files): RapidJSON's iterative
// parser (no recursion on the input's depth) plus a nesting limit, into a pool-allocated Document.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace mlnetpol::admission {

// Real Kubernetes objects nest about 20 deep (managedFields' fieldsV1 included); 256 is ample for
// them and still bounds the parser state and any code that walks the tree.
inline constexpr unsigned default_max_json_depth = 256;

struct json_error {
  std::size_t offset = 0;  // byte offset in the input where parsing stopped
  std::string message;     // "invalid JSON at offset 12: ..." or "JSON nesting deeper than 256 ..."
};

struct json_parse_options {
  unsigned max_depth = default_max_json_depth;
  bool validate_utf8 = true;  // reject input that is not valid UTF-8
};

// Parses text into document, replacing its content and copying strings into its allocator. Keep
// the document's MemoryPoolAllocator: with it no destructor recurses on the tree.
// Returns the error, or nothing on success (the document is then the parsed value).
std::optional<json_error> parse_json(rapidjson::Document& document, std::string_view text,
                                     const json_parse_options& options = {});

// The same, parsing in place: strings are unescaped inside text and the document points into it,
// so text (size bytes followed by a '\0') must outlive the document. Saves copying every string.
std::optional<json_error> parse_json_insitu(rapidjson::Document& document, char* text,
                                            std::size_t size,
                                            const json_parse_options& options = {});

// The offset of the first byte that does not start a valid UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF are invalid), or nothing when all of text is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// "null", "a boolean", "an object", "an array", "a string" or "a number", for error messages.
const char* json_type_name(const rapidjson::Value& value);

}  // namespace mlnetpol::admission
