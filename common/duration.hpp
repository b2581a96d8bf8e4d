#pragma once
// The one duration syntax of every flag: Go-style 500ms, 15s, 10m, 1h, 1m30s, or a bare number
// of seconds ("30"). Bounded (each number <= 1e9), no sign, no fractions.
#include <chrono>
#include <string_view>

#include "common/result.hpp"

namespace mlnetpol {

result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace mlnetpol
