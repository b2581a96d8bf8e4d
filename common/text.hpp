#pragma once
// Joining text for messages and names: one home for "a, b, c".
#include <cstddef>
#include <string>
#include <string_view>

namespace mlnetpol::text {

// Appends the items (anything a std::string_view can be made of) to out, separator between them.
template <typename Range>
void append_joined(std::string& out, const Range& items, std::string_view separator) {
  bool first = true;
  for (const auto& item : items) {
    if (!first) out.append(separator);
    out.append(std::string_view(item));
    first = false;
  }
}

// The items joined with separator: join({"a", "b"}, ", ") == "a, b".
template <typename Range>
std::string join(const Range& items, std::string_view separator) {
  std::string out;
  append_joined(out, items, separator);
  return out;
}

}  // namespace mlnetpol::text
