#include "common/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace mlnetpol {
namespace {

// UTC date and time of day; micro adds six digits of the second.
std::string format(std::chrono::system_clock::time_point time, bool micro) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(time.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(micros / 1'000'000);
  long fraction = static_cast<long>(micros % 1'000'000);
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(text, static_cast<std::size_t>(n));
  if (micro) {
    std::snprintf(text, sizeof text, ".%06ld", fraction);
    out += text;
  }
  out += 'Z';
  return out;
}

}  // namespace

std::string format_rfc3339(std::chrono::system_clock::time_point time) {
  return format(time, false);
}

std::string format_rfc3339_micro(std::chrono::system_clock::time_point time) {
  return format(time, true);
}

}  // namespace mlnetpol
