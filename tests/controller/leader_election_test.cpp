#include "controller/leader_election.hpp"

#include <cstdlib>

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using testing::fake_cluster;
using testing::make_error;

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
