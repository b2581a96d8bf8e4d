#include <doctest/doctest.h>

#include "app/reconciler_runnable.hpp"
#include "tests/app/usage_default.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol::app;
using mlnetpol::controller::request_deadline;

namespace {

// A parser with the reconciler's flags, as serve_command declares them.
mlnetpol::result<void> parse(std::vector<std::string_view> args, reconciler_flags& f) {
  mlnetpol::flags::parser p;
  declare(p, f);
  if (auto r = p.parse(args); !r) return r.error();
  return check(f);
}

}  // namespace

TEST_CASE("declare: the reconciler's flags beside the server's on one parser") {
  reconciler_flags f;
  auto rest = parse({"--kubeconfig", "/k", "--reconcile=false", "--events=false",
                     "--resync-period=30s", "--leader-elect-lease-duration", "20s",
                     "--leader-elect-renew-deadline=12s", "--leader-elect-retry-period", "3s"},
                    f);
  REQUIRE(rest.has_value());
  CHECK(f.kubeconfig == "/k");
  CHECK_FALSE(f.reconcile);
  CHECK_FALSE(f.reconciler.events);
  CHECK(f.reconciler.manager.resync_period == 30s);
  CHECK(f.reconciler.manager.election.lease_duration == 20s);
  CHECK(f.reconciler.manager.election.renew_deadline == 12s);
  CHECK(f.reconciler.manager.election.retry_period == 3s);

  reconciler_flags d;
  REQUIRE(parse({}, d).has_value());
  CHECK(d.reconcile);
  CHECK(d.reconciler.events);
  CHECK(d.reconciler.manager.resync_period == 10min);
  CHECK(d.reconciler.manager.election.lease_duration == 15s);
  CHECK(d.reconciler.manager.election.renew_deadline == 10s);
  CHECK(d.reconciler.manager.election.retry_period == 2s);
  CHECK(d.reconciler.manager.guard.max_percent == 10);
  CHECK(d.reconciler.manager.guard.max_namespaces == 50);
}

TEST_CASE("prune guard flags") {
  reconciler_flags f;
  REQUIRE(parse({"--prune-guard-percent=25", "--prune-guard-namespaces", "7"}, f).has_value());
  CHECK(f.reconciler.manager.guard.max_percent == 25);
  CHECK(f.reconciler.manager.guard.max_namespaces == 7);
  reconciler_flags g;
  CHECK(parse({"--prune-guard-percent=101"}, g).error().message ==
        "--prune-guard-percent: not a whole number from 0 to 100: '101'");
  CHECK(parse({"--prune-guard-namespaces=-1"}, g).error().message ==
        "--prune-guard-namespaces: not a whole number from 0 to 1000000000: '-1'");
  CHECK_FALSE(parse({"--prune-guard-namespaces=5x"}, g).has_value());
  CHECK_FALSE(parse({"--prune-guard-percent="}, g).has_value());
}

TEST_CASE("request_deadline: shorter than the renew deadline and than the lease's margin over it") {
  reconciler_flags d;
  CHECK(request_deadline(d.reconciler.manager.election) == 5s);  // 15 s lease, 10 s renew deadline
  reconciler_flags e2e;
  e2e.reconciler.manager.election.lease_duration = 4s;
  e2e.reconciler.manager.election.renew_deadline = 3s;
  CHECK(request_deadline(e2e.reconciler.manager.election) == 1s);
  reconciler_flags slow;
  slow.reconciler.manager.election.lease_duration = 600s;
  slow.reconciler.manager.election.renew_deadline = 400s;
  CHECK(request_deadline(slow.reconciler.manager.election) == 30s);  // never longer than the client's usual 30 s
}

TEST_CASE("reconciler flags: bad values are clear errors") {
  reconciler_flags f;
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
  reconciler_flags g;
  CHECK(parse({"--leader-elect-lease-duration=5s"}, g)
            .error()
            .message.find("greater than --leader-elect-renew-deadline") != std::string::npos);
}

TEST_CASE("reconciler_runnable: off, or no cluster access -> admission only (nothing runs)") {
  const mlnetpol::snapshot<mlnetpol::policy::config> config{mlnetpol::policy::config{}};
  reconciler_flags f;
  f.reconcile = false;
  mlnetpol::k8s::rest_config somewhere;
  somewhere.host = "127.0.0.1";
  reconciler_runnable off{f, somewhere, config};
  off.start();
  CHECK_FALSE(off.running());
  CHECK(off.not_ready().empty());
  reconciler_flags g;  // reconciling, but serve found no cluster access (no --kubeconfig, not in a pod)
  reconciler_runnable none{g, std::nullopt, config};
  none.start();
  CHECK_FALSE(none.running());
}

TEST_CASE("reconciler flags: the defaults are the controller's, and the usage text names them") {
  const reconciler_flags d;
  const mlnetpol::controller::manager_options defaults;
  CHECK(d.reconciler.manager.resync_period == defaults.resync_period);
  CHECK(d.reconciler.manager.election.lease_duration == defaults.election.lease_duration);
  const std::string usage = reconciler_flags_usage();
  const std::pair<const char*, std::chrono::milliseconds> durations[] = {
      {"--resync-period", defaults.resync_period},
      {"--leader-elect-lease-duration", defaults.election.lease_duration},
      {"--leader-elect-renew-deadline", defaults.election.renew_deadline},
      {"--leader-elect-retry-period", defaults.election.retry_period},
  };
  for (const auto& [flag, value] : durations) {
    CAPTURE(flag);
    CHECK(mlnetpol::testing::usage_default(usage, flag) == value);
  }
  CHECK(usage.find("(default " + std::to_string(defaults.guard.max_percent) + ")") !=
        std::string::npos);
  CHECK(usage.find("(default " + std::to_string(defaults.guard.max_namespaces) + ")") !=
        std::string::npos);
}
