#include "controller/work_queue.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mlnetpol::controller::backoff_options;
using mlnetpol::controller::work_queue;

TEST_CASE("work_queue: a key queued twice while waiting is one item") {
  work_queue q;
  q.add("a");
  q.add("b");
  q.add("a");
  CHECK(q.length() == 2);
  CHECK(*q.get() == "a");
  CHECK(*q.get() == "b");
  CHECK(q.length() == 0);
}

TEST_CASE("work_queue: a key re-queued while processed runs again after done, not twice at once") {
  work_queue q;
  q.add("a");
  const auto key = q.get();
  REQUIRE(key);
  q.add("a");
  q.add("a");
  CHECK(q.length() == 0);  // held back while "a" is processed
  q.done("a");
  CHECK(q.length() == 1);
  CHECK(*q.get() == "a");
  q.done("a");
  CHECK(q.idle());
}

TEST_CASE("work_queue: per-key exponential backoff from 5 ms, capped at 1000 s, reset by forget") {
  backoff_options o;
  o.bucket_burst = 1e9;  // only the per-key limiter matters here
  work_queue q(o);
  CHECK(q.add_rate_limited("a") == 5ms);
  CHECK(q.add_rate_limited("a") == 10ms);
  CHECK(q.add_rate_limited("a") == 20ms);
  CHECK(q.add_rate_limited("b") == 5ms);  // per key
  CHECK(q.requeues("a") == 3);
  for (int i = 0; i < 40; ++i) q.add_rate_limited("a");
  CHECK(q.add_rate_limited("a") == 1000s);
  q.forget("a");
  CHECK(q.requeues("a") == 0);
  CHECK(q.add_rate_limited("a") == 5ms);
}

TEST_CASE("work_queue: Retry-After is honoured when longer than the backoff") {
  work_queue q;
  CHECK(q.add_rate_limited("a", 3s) == 3s);
  CHECK(q.waiting() == 1);
  CHECK(q.length() == 0);
}

TEST_CASE("work_queue: the overall bucket slows a burst of failures down") {
  backoff_options o;
  o.bucket_qps = 10;
  o.bucket_burst = 2;
  work_queue q(o);
  CHECK(q.add_rate_limited("a") == 5ms);
  CHECK(q.add_rate_limited("b") == 5ms);
  // Third within the burst of 2: waits about 1/qps for a token.
  const auto d = q.add_rate_limited("c");
  CHECK(d > 90ms);
  CHECK(d <= 100ms);
}

TEST_CASE("work_queue: delayed keys come out when due, the earlier delay wins") {
  work_queue q;
  q.add_after("a", 10s);
  q.add_after("a", 20ms);
  CHECK(q.waiting() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  const auto key = q.get();
  const auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE(key);
  CHECK(*key == "a");
  CHECK(waited >= 15ms);
  CHECK(waited < 5s);
}

TEST_CASE("work_queue: shutdown wakes every waiting worker") {
  work_queue q;
  std::atomic<int> woke{0};
  std::thread t1([&] {
    if (!q.get()) ++woke;
  });
  std::thread t2([&] {
    if (!q.get()) ++woke;
  });
  std::this_thread::sleep_for(20ms);
  q.shutdown();
  t1.join();
  t2.join();
  CHECK(woke == 2);
  q.add("a");
  CHECK(q.length() == 0);
}
