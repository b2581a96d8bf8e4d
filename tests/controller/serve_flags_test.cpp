#include <doctest/doctest.h>

#include "controller/serve.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol::controller;

namespace {

// A parser with the reconciler's flags, as serve_command declares them.
mlnetpol::result<void> parse(std::vector<std::string_view> args, serve_flags& f) {
  mlnetpol::flags::parser p;
  declare(p, f);
  if (auto r = p.parse(args); !r) return r.error();
  return check(f);
}

}  // namespace

TEST_CASE("declare: the reconciler's flags beside the server's on one parser") {
  serve_flags f;
  auto rest = parse({"--kubeconfig", "/k", "--reconcile=false", "--events=false",
                     "--resync-period=30s", "--leader-elect-lease-duration", "20s",
                     "--leader-elect-renew-deadline=12s", "--leader-elect-retry-period", "3s"},
                    f);
  REQUIRE(rest.has_value());
  CHECK(f.kubeconfig == "/k");
  CHECK_FALSE(f.reconcile);
  CHECK_FALSE(f.events);
  CHECK(f.resync_period == 30s);
  CHECK(f.lease_duration == 20s);
  CHECK(f.renew_deadline == 12s);
  CHECK(f.retry_period == 3s);

  serve_flags d;
  REQUIRE(parse({}, d).has_value());
  CHECK(d.reconcile);
  CHECK(d.events);
  CHECK(d.resync_period == 10min);
  CHECK(d.lease_duration == 15s);
  CHECK(d.renew_deadline == 10s);
  CHECK(d.retry_period == 2s);
  CHECK(d.prune_guard.max_percent == 10);
  CHECK(d.prune_guard.max_namespaces == 50);
}

TEST_CASE("prune guard flags") {
  serve_flags f;
  REQUIRE(parse({"--prune-guard-percent=25", "--prune-guard-namespaces", "7"}, f).has_value());
  CHECK(f.prune_guard.max_percent == 25);
  CHECK(f.prune_guard.max_namespaces == 7);
  serve_flags g;
  CHECK(parse({"--prune-guard-percent=101"}, g).error().message ==
        "--prune-guard-percent: not a whole number from 0 to 100: '101'");
  CHECK(parse({"--prune-guard-namespaces=-1"}, g).error().message ==
        "--prune-guard-namespaces: not a whole number from 0 to 1000000000: '-1'");
  CHECK_FALSE(parse({"--prune-guard-namespaces=5x"}, g).has_value());
  CHECK_FALSE(parse({"--prune-guard-percent="}, g).has_value());
}

TEST_CASE("request_deadline: shorter than the renew deadline and than the lease's margin over it") {
  serve_flags d;
  CHECK(request_deadline(d) == 5s);  // 15 s lease, 10 s renew deadline
  serve_flags e2e;
  e2e.lease_duration = 4s;
  e2e.renew_deadline = 3s;
  CHECK(request_deadline(e2e) == 1s);
  serve_flags slow;
  slow.lease_duration = 600s;
  slow.renew_deadline = 400s;
  CHECK(request_deadline(slow) == 30s);  // never longer than the client's usual 30 s
}

TEST_CASE("reconciler flags: bad values are clear errors") {
  serve_flags f;
  CHECK(parse({"--reconcile=maybe"}, f).error().message.find("true or false") !=
        std::string::npos);
  CHECK_FALSE(parse({"--kubeconfig"}, f).has_value());
  CHECK(parse({"--resync-period", "often"}, f).error().message ==
        "--resync-period: not a duration (like 500ms, 10s, 2m): 'often'");
  CHECK(parse({"--resync-period=0s"}, f).error().message == "--resync-period: must be > 0");
  // Did-you-mean across every part's flags.
  CHECK(parse({"--kubeconfg=/k"}, f).error().message.find("--kubeconfig") != std::string::npos);
  CHECK(parse({"--evnets=false"}, f).error().message.find("did you mean --events?") !=
        std::string::npos);
  CHECK(parse({"--events=sometimes"}, f).error().message.find("true or false") !=
        std::string::npos);
  serve_flags g;
  CHECK(parse({"--leader-elect-lease-duration=5s"}, g)
            .error()
            .message.find("greater than --leader-elect-renew-deadline") != std::string::npos);
}

TEST_CASE("start_reconciler: off, or no cluster access -> admission only (null)") {
  serve_flags f;
  f.reconcile = false;
  mlnetpol::k8s::rest_config somewhere;
  somewhere.host = "127.0.0.1";
  CHECK(start_reconciler(f, somewhere, {}) == nullptr);
  CHECK(make_reconciler(f, somewhere) == nullptr);
  serve_flags g;  // reconciling, but serve found no cluster access (no --kubeconfig, not in a pod)
  CHECK(start_reconciler(g, std::nullopt, {}) == nullptr);
  CHECK(make_reconciler(g, std::nullopt) == nullptr);
}
