#pragma once
// The one bounded JSON parser for untrusted input (admission bodies, config files, API-server
// answers): RapidJSON's iterative parser (no recursion on the input's depth) plus a nesting limit,
// into a pool-allocated Document whose destructor does not recurse either; valid UTF-8 only.
#include <cstddef>
#include <optional>
#include <string_view>

#include <rapidjson/document.h>

#include "common/result.hpp"

namespace mlnetpol::json {

// Real Kubernetes objects nest about 20 deep (managedFields' fieldsV1 included); 256 is ample for
// them and still bounds the parser state and any code that walks the tree.
inline constexpr unsigned default_max_depth = 256;

struct parse_options {
  unsigned max_depth = default_max_depth;
  bool validate_utf8 = true;  // reject input that is not valid UTF-8
};

// Parses the whole of text (nothing but whitespace may follow the value) into document, replacing
// its content and copying strings into its allocator. Keep the document's MemoryPoolAllocator: with
// it no destructor recurses on the tree. On failure the document is null and the error says where:
// "invalid JSON at offset 12: ...", "JSON nesting deeper than 256 at offset 256" or
// "invalid UTF-8 at offset 3".
result<void> parse(rapidjson::Document& document, std::string_view text,
                   const parse_options& options = {});

// The same, parsing in place: strings are unescaped inside text and the document points into it,
// so text (size bytes followed by a '\0') must outlive the document. Saves copying every string.
result<void> parse_insitu(rapidjson::Document& document, char* text, std::size_t size,
                          const parse_options& options = {});

// The offset of the first byte that does not start a valid UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF are invalid), or nothing when all of text is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// "null", "a boolean", "an object", "an array", "a string" or "a number", for error messages.
const char* json_type_name(const rapidjson::Value& value);

}  // namespace mlnetpol::json
