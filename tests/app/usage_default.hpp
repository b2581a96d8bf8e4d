#pragma once
// The "(default D)" a usage text gives a duration flag, read back as a duration: tests compare it
// with the struct default the flag binds, so the text cannot drift from the value.
#include <chrono>
#include <optional>
#include <regex>
#include <string>

#include "common/duration.hpp"

namespace mlnetpol::testing {

inline std::optional<std::chrono::milliseconds> usage_default(const std::string& usage,
                                                              const std::string& flag) {
  std::smatch m;
  const std::regex re(flag + R"( D[\s\S]*?\(default ([0-9a-z]+))");
  if (!std::regex_search(usage, m, re)) return std::nullopt;
  const auto parsed = parse_duration(m[1].str());
  if (!parsed) return std::nullopt;
  return *parsed;
}

}  // namespace mlnetpol::testing
