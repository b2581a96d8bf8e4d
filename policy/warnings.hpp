#pragma once
// Admission warnings within the API server's limits: no "Warning:" prefix, printable, at most
// 120 characters each and 4096 in total (the API server drops what exceeds them).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mlnetpol::policy {

inline constexpr std::size_t max_warning_length = 120;
inline constexpr std::size_t max_warnings_total = 4096;

// Cuts s to at most max bytes on a UTF-8 boundary, ending in "..." when cut.
std::string truncate_utf8(std::string_view s, std::size_t max);

// Sanitises (control characters become spaces, a leading "Warning:" is dropped), truncates each
// warning, and when the total would exceed the limit keeps what fits and ends with
// "N more warnings omitted".
std::vector<std::string> fit_warnings(const std::vector<std::string>& warnings);

}  // namespace mlnetpol::policy
