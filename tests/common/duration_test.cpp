#include <doctest/doctest.h>

#include "common/duration.hpp"

using namespace std::chrono_literals;
using mlnetpol::parse_duration;

TEST_CASE("parse_duration: Go-style durations and bare seconds") {
  CHECK(*parse_duration("10m") == 600'000ms);
  CHECK(*parse_duration("15s") == 15'000ms);
  CHECK(*parse_duration("500ms") == 500ms);
  CHECK(*parse_duration("1h") == 3'600'000ms);
  CHECK(*parse_duration("1m30s") == 90'000ms);
  CHECK(*parse_duration("7") == 7s);
  CHECK(*parse_duration("0s") == 0ms);
}

TEST_CASE("parse_duration: anything else is an error naming the text") {
  for (const char* bad : {"", "s", "-5s", "-1s", "5d", "1.5s", "1m30", "10 s", "99999999999s"}) {
    CAPTURE(bad);
    const auto d = parse_duration(bad);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
  }
}
