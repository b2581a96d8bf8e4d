#include "common/token_bucket.hpp"

#include <doctest/doctest.h>

using mlnetpol::token_bucket;
using namespace std::chrono_literals;

TEST_CASE("a token bucket starts full, refills one token per interval, holds at most burst") {
  const auto t = token_bucket::clock::now();
  token_bucket b(2, 100ms, t);
  CHECK(b.try_take(t));
  CHECK(b.try_take(t));
  CHECK_FALSE(b.try_take(t));
  CHECK_FALSE(b.try_take(t + 99ms));
  CHECK(b.try_take(t + 100ms));
  CHECK(b.try_take(t + 10s));  // ten seconds refill the burst only
  CHECK(b.try_take(t + 10s));
  CHECK_FALSE(b.try_take(t + 10s));
}

TEST_CASE("refills summed in many small steps still make a whole token") {
  const auto t = token_bucket::clock::now();
  token_bucket b(1, 3ms, t);
  CHECK(b.try_take(t));
  CHECK_FALSE(b.available(t + 1ms));
  CHECK_FALSE(b.available(t + 2ms));
  CHECK(b.available(t + 3ms));
}

TEST_CASE("available and take apart: look at a bucket without spending") {
  const auto t = token_bucket::clock::now();
  token_bucket b(1, 1s, t);
  CHECK(b.available(t));
  CHECK(b.available(t));  // looking does not take
  b.take();
  CHECK_FALSE(b.available(t));
}

TEST_CASE("time going backwards neither refills nor drains") {
  const auto t = token_bucket::clock::now();
  token_bucket b(1, 1s, t);
  CHECK(b.try_take(t));
  CHECK_FALSE(b.try_take(t - 10s));
  CHECK(b.try_take(t + 1s));
}

TEST_CASE("a zero interval refills at once") {
  const auto t = token_bucket::clock::now();
  token_bucket b(1, 0ns, t);
  CHECK(b.try_take(t));
  CHECK(b.try_take(t + 1ns));
  CHECK(b.try_take(t + 2ns));
}

TEST_CASE("reserve takes a token on credit and says how long the debt lasts") {
  const auto t = token_bucket::clock::now();
  token_bucket b(1, 100ms, t);  // ten a second
  CHECK(b.reserve(t) == 0ns);
  CHECK(b.reserve(t) == 100ms);
  CHECK(b.reserve(t) == 200ms);
  CHECK(b.reserve(t + 300ms) == 0ns);  // the debt paid, and one token back
  CHECK_FALSE(b.available(t + 300ms));
}
