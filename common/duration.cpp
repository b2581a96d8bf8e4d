#include "common/duration.hpp"

#include <charconv>
#include <cstdint>
#include <string>
#include <utility>

namespace mlnetpol {

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [text] {
    return fail("bad duration \"" + std::string(text) + "\" (expected e.g. 500ms, 15s, 10m, 1h)");
  };
  if (text.empty()) return bad();
  std::chrono::milliseconds total{0};
  std::string_view rest = text;
  bool first = true;
  while (!rest.empty()) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || end == rest.data() || n > 1'000'000'000) return bad();
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    // A bare number is seconds, only as the whole text ("30", not "1m30").
    if (rest.empty() && first) return std::chrono::milliseconds(n * 1000);
    std::uint64_t ms_per_unit = 0;
    for (const auto& [unit, ms] : {std::pair<std::string_view, std::uint64_t>{"ms", 1},
                                   {"s", 1000},
                                   {"m", 60'000},
                                   {"h", 3'600'000}}) {
      if (rest.starts_with(unit)) {
        ms_per_unit = ms;
        rest.remove_prefix(unit.size());
        break;
      }
    }
    if (ms_per_unit == 0) return bad();
    total += std::chrono::milliseconds(n * ms_per_unit);
    first = false;
  }
  return total;
}

}  // namespace mlnetpol
