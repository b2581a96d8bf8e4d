#pragma once
// An independent statement of the structural checks every request body gets (issue 27): whole,
// valid UTF-8 (common/json_parse's checker, not simdjson's), no unescaped control character in
// a string, every string closed, brackets balanced and matched, nesting no deeper than the limit
// (the root is depth 1), a root object and nothing but whitespace after it. A plain byte loop, for
// the tests and the fuzz target to hold the decoder's fast path to.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/json_parse.hpp"

namespace mlnetpol::admission::testing {

inline bool structurally_whole(std::string_view body, unsigned max_depth = json::default_max_depth) {
  if (json::find_invalid_utf8(body)) return false;
  std::string open;  // the open brackets, innermost last
  bool in_string = false;
  bool seen_root = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        ++i;  // the escaped byte cannot end the string
        if (i < body.size() && static_cast<unsigned char>(body[i]) < 0x20) return false;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (open.empty()) {
      if (space) continue;
      if (seen_root || c != '{') return false;  // content after the root, or a root no object
      seen_root = true;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (open.size() == max_depth) return false;
      open.push_back(c);
    } else if (c == '}' || c == ']') {
      if (open.empty() || open.back() != (c == '}' ? '{' : '[')) return false;
      open.pop_back();
    }
  }
  return seen_root && open.empty() && !in_string;
}

}  // namespace mlnetpol::admission::testing
