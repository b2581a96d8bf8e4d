#include "server/log_limiter.hpp"

#include <chrono>

#include <doctest/doctest.h>

using mlnetpol::server::log_limiter;
using namespace std::chrono_literals;

TEST_CASE("without a rate every line is written") {
  log_limiter limiter(0, 0);
  const auto t = log_limiter::clock::now();
  for (int i = 0; i < 1000; ++i) {
    const auto v = limiter.admit(t);
    REQUIRE(v.write);
    REQUIRE(v.suppressed_before == 0);
  }
}

TEST_CASE("a burst, then the rate; the first line after a gap counts the lines left out") {
  const auto t = log_limiter::clock::now() + 1s;  // after the limiter starts (full)
  log_limiter limiter(10, 3);
  for (int i = 0; i < 3; ++i) CHECK(limiter.admit(t).write);
  CHECK_FALSE(limiter.admit(t).write);
  CHECK_FALSE(limiter.admit(t + 50ms).write);  // half a token
  const auto next = limiter.admit(t + 100ms);  // one token a tenth of a second
  CHECK(next.write);
  CHECK(next.suppressed_before == 2);
  CHECK_FALSE(limiter.admit(t + 100ms).write);
  // a long quiet spell refills the burst, no more
  const auto later = t + 1h;
  const auto first = limiter.admit(later);
  CHECK(first.write);
  CHECK(first.suppressed_before == 1);
  CHECK(limiter.admit(later).write);
  CHECK(limiter.admit(later).write);
  CHECK_FALSE(limiter.admit(later).write);
}
