#pragma once
// String building for messages: the parts' sizes are summed first, so a message costs one
// allocation instead of one per `+` (a denial composes a dozen parts per request).
#include <cstddef>
#include <string>
#include <string_view>

namespace mlnetpol::policy {

// Appends every part to out, growing it at most once.
template <typename... Parts>
void append(std::string& out, const Parts&... parts) {
  const std::string_view views[] = {std::string_view(parts)...};
  std::size_t size = out.size();
  for (const std::string_view v : views) size += v.size();
  out.reserve(size);
  for (const std::string_view v : views) out.append(v.data(), v.size());
}

// The parts joined, in one allocation (none when the result fits the small-string buffer).
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  append(out, parts...);
  return out;
}

}  // namespace mlnetpol::policy
