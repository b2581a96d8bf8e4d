#include "common/time_format.hpp"

#include <chrono>

#include <doctest/doctest.h>

using namespace std::chrono;

TEST_CASE("format_rfc3339: UTC, whole seconds, truncated") {
  const auto t = sys_days{year{2026} / 11 / 30} + hours(11) + minutes(2) + seconds(3);
  CHECK(mlnetpol::format_rfc3339(t) == "2026-11-30T11:02:03Z");
  CHECK(mlnetpol::format_rfc3339(t + milliseconds(999)) == "2026-11-30T11:02:03Z");
  CHECK(mlnetpol::format_rfc3339(system_clock::time_point{}) == "1970-01-01T00:00:00Z");
}

TEST_CASE("format_rfc3339_micro: six fractional digits, also before 1970") {
  const auto t = sys_days{year{2026} / 11 / 30} + hours(11) + microseconds(1500);
  CHECK(mlnetpol::format_rfc3339_micro(t) == "2026-11-30T11:00:00.001500Z");
  CHECK(mlnetpol::format_rfc3339_micro(system_clock::time_point{} - microseconds(1)) ==
        "1969-12-31T23:59:59.999999Z");
}
