#include "controller/leader_election.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/controller/cluster_handles.hpp"
#include "tests/controller/fake_cluster.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::eventually;
using controller::testing::fake_cluster;
using controller::testing::freezable_handle;
using controller::testing::make_error;

namespace {

leader_election_options opts(std::string id) {
  leader_election_options o;
  o.identity = std::move(id);
  return o;
}

const auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

}  // namespace

TEST_CASE("leader_election: the first candidate creates the lease, the second waits") {
  fake_cluster api;
  leader_elector a(api, opts("a")), b(api, opts("b"));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(a.try_acquire_or_renew(t0, wall));
  CHECK(a.is_leader(t0));
  REQUIRE(api.lease());
  CHECK(api.lease()->holder_identity == "a");
  CHECK(api.lease()->lease_duration_seconds == 15);
  CHECK(api.lease()->namespace_name == "mlnetpol-system");
  CHECK(api.lease()->name == "mlnetpol-reconciler");
  CHECK(api.lease()->renew_time == "2023-11-14T22:13:20.000000Z");
  CHECK_FALSE(b.try_acquire_or_renew(t0, wall));
  CHECK(b.observed_holder() == "a");
  // a renews every retry period; b keeps seeing a fresh record and never takes over.
  for (int i = 1; i <= 20; ++i) {
    const auto t = t0 + i * 2s;
    CHECK(a.try_acquire_or_renew(t, wall + i * 2s));
    CHECK_FALSE(b.try_acquire_or_renew(t + 1s, wall + i * 2s));
  }
}

TEST_CASE("leader_election: a holder that stops renewing loses the lease after lease_duration") {
  fake_cluster api;
  leader_elector a(api, opts("a")), b(api, opts("b"));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(a.try_acquire_or_renew(t0, wall));
  CHECK_FALSE(b.try_acquire_or_renew(t0 + 1s, wall));
  // Measured from when b first saw the record, on b's own clock.
  CHECK_FALSE(b.try_acquire_or_renew(t0 + 15s, wall));
  CHECK(b.try_acquire_or_renew(t0 + 16s + 1ms, wall));
  CHECK(api.lease()->holder_identity == "b");
  CHECK(api.lease()->lease_transitions == 1);
  // a's renew deadline (10 s) passed long ago: a is no leader even before it tries again.
  CHECK_FALSE(a.is_leader(t0 + 16s));
  CHECK_FALSE(a.try_acquire_or_renew(t0 + 17s, wall));
}

TEST_CASE("leader_election: a renew that keeps failing steps down at renew_deadline") {
  fake_cluster api;
  leader_elector a(api, opts("a"));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(a.try_acquire_or_renew(t0, wall));
  api.fail_next("update lease", make_error(k8s::failure_kind::transport, 0, "timeout"));
  CHECK(a.try_acquire_or_renew(t0 + 2s, wall));  // no news yet: still leader
  api.fail_next("update lease", make_error(k8s::failure_kind::server_error, 503, "down"));
  CHECK_FALSE(a.try_acquire_or_renew(t0 + 10s, wall));  // 10 s since the last renew
  CHECK(a.try_acquire_or_renew(t0 + 12s, wall));        // API back: renews again
}

TEST_CASE("leader_election: a 409 loses the round") {
  fake_cluster api;
  leader_elector a(api, opts("a"));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(a.try_acquire_or_renew(t0, wall));
  api.fail_next("update lease", make_error(k8s::failure_kind::conflict, 409, "conflict"));
  CHECK_FALSE(a.try_acquire_or_renew(t0 + 2s, wall));
  CHECK_FALSE(a.is_leader(t0 + 2s));
}

TEST_CASE("leader_election: release hands over at once") {
  fake_cluster api;
  leader_elector a(api, opts("a")), b(api, opts("b"));
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(a.try_acquire_or_renew(t0, wall));
  CHECK_FALSE(b.try_acquire_or_renew(t0, wall));
  CHECK(a.release(wall));
  CHECK(api.lease()->holder_identity.empty());
  CHECK(b.try_acquire_or_renew(t0 + 1s, wall));  // no wait for expiry
  CHECK(api.lease()->holder_identity == "b");
  CHECK_FALSE(a.release(wall));  // not holding: nothing to release
}

TEST_CASE("leader_election: identity and lease namespace from the downward API") {
  setenv("POD_NAME", "mlnetpol-abc", 1);
  setenv("POD_NAMESPACE", "security", 1);
  CHECK(default_identity() == "mlnetpol-abc");
  CHECK(default_lease_namespace() == "security");
  unsetenv("POD_NAME");
  unsetenv("POD_NAMESPACE");
  const std::string id = default_identity();
  CHECK(id.find('_') != std::string::npos);
  CHECK(id.substr(id.rfind('_') + 1) == std::to_string(getpid()));
  CHECK(default_lease_namespace() == "mlnetpol-system");
}

namespace {

// The callbacks a loop made, in order.
struct callback_log {
  std::mutex m;
  std::vector<std::string> seen;
  void add(std::string what) {
    std::lock_guard lock(m);
    seen.push_back(std::move(what));
  }
  std::vector<std::string> get() {
    std::lock_guard lock(m);
    return seen;
  }
  leader_callbacks callbacks() {
    return {[this] { add("started"); },
            [this](std::string_view why) { add("stopped: " + std::string(why)); }, nullptr};
  }
};

leader_election_options fast_opts(std::string id) {
  leader_election_options o = opts(std::move(id));
  o.lease_duration = 1s;
  o.renew_deadline = 300ms;
  o.retry_period = 50ms;
  return o;
}

}  // namespace

TEST_CASE("leader_election_loop: acquires, renews, and calls started once a term") {
  fake_cluster api;
  callback_log log;
  leader_election_loop a(api, opts("a"), log.callbacks());
  CHECK_FALSE(a.leader());
  CHECK(a.step());
  CHECK(a.leader());
  CHECK(api.lease()->holder_identity == "a");
  const std::string rv = api.lease()->resource_version;
  CHECK(a.step());  // a renew: the record is written again
  CHECK(api.lease()->resource_version != rv);
  CHECK(log.get() == std::vector<std::string>{"started"});
}

TEST_CASE("leader_election_loop: callbacks come in order, stopped once a term, with why") {
  fake_cluster api;
  callback_log log;
  leader_election_loop a(api, opts("a"), log.callbacks());
  CHECK(a.step());
  // Another replica took the lease (a partition healed the other way): a stops leading.
  k8s::lease_record other = *api.lease();
  other.holder_identity = "b";
  api.set_lease(other);
  CHECK_FALSE(a.step());
  CHECK_FALSE(a.leader());
  CHECK_FALSE(a.step());  // still not leading: no second stopped
  // b released it: a leads again, a new term.
  other.holder_identity.clear();
  api.set_lease(other);
  CHECK(a.step());
  CHECK(log.get() == std::vector<std::string>{"started", "stopped: another replica holds the lease",
                                              "started"});
  // A candidate that never led calls nothing.
  callback_log none;
  leader_election_loop b(api, opts("b"), none.callbacks());
  CHECK_FALSE(b.step());
  CHECK(none.get().empty());
}

TEST_CASE("leader_election_loop: a candidate waits retry_period plus up to 1.2 times it") {
  fake_cluster api;
  leader_election_options o = opts("a");
  o.retry_period = 1000ms;
  leader_election_loop a(api, o, {});
  CHECK(a.next_wait(true) == 1000ms);  // a leader renews on the period, as client-go's renew loop
  std::chrono::milliseconds lo{1h}, hi{0};
  for (int i = 0; i < 2000; ++i) {
    const auto w = a.next_wait(false);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  CHECK(lo >= 1000ms);
  CHECK(hi <= 2200ms);
  // Spread over the range (2000 draws: the chance of missing either end by 10% is ~1e-90).
  CHECK(lo < 1120ms);
  CHECK(hi > 2080ms);
}

TEST_CASE("leader_election_loop: a leader whose renew hangs stops leading at the renew deadline") {
  fake_cluster api;
  std::atomic<bool> frozen{false};
  freezable_handle handle(api, frozen);
  callback_log log;
  leader_election_loop a(handle, fast_opts("a"), log.callbacks());
  a.start();
  REQUIRE(eventually([&] { return a.leader(); }));
  const auto t0 = std::chrono::steady_clock::now();
  frozen = true;  // the renew in flight (or the next one) hangs
  REQUIRE(eventually([&] { return !a.leader(); }, 2000ms));
  const auto lost = std::chrono::steady_clock::now() - t0;
  MESSAGE("not leader after " << std::chrono::duration_cast<std::chrono::milliseconds>(lost).count()
                              << " ms");
  CHECK(lost < 300ms + 200ms);  // 200 ms: the poll and the wake-ups on a busy machine
  REQUIRE(eventually([&] { return log.get().size() == 2; }));
  CHECK(log.get() ==
        std::vector<std::string>{"started",
                                 "stopped: renew deadline passed without a successful renew"});
  frozen = false;  // answers again: no one else took the lease, a leads again
  REQUIRE(eventually([&] { return a.leader(); }));
  CHECK(log.get().size() == 3);
  a.stop();
}

TEST_CASE("leader_election_loop: stop waits for before_release, then releases the lease") {
  fake_cluster api;
  callback_log log;
  leader_callbacks callbacks = log.callbacks();
  std::string holder_before_release;
  callbacks.before_release = [&] {
    log.add("before release");
    holder_before_release = api.lease()->holder_identity;
  };
  leader_election_loop a(api, fast_opts("a"), callbacks);
  a.start();
  REQUIRE(eventually([&] { return a.leader(); }));
  a.stop();
  CHECK_FALSE(a.leader());
  CHECK(holder_before_release == "a");
  CHECK(api.lease()->holder_identity.empty());  // released: the next candidate need not wait
  CHECK(log.get() == std::vector<std::string>{"started", "before release"});
  a.stop();  // idempotent
}
