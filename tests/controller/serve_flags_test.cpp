#include <doctest/doctest.h>

#include "controller/serve.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol::controller;

TEST_CASE("parse_duration: Go-style durations") {
  CHECK(*parse_duration("10m") == 600'000ms);
  CHECK(*parse_duration("15s") == 15'000ms);
  CHECK(*parse_duration("500ms") == 500ms);
  CHECK(*parse_duration("1h") == 3'600'000ms);
  CHECK(*parse_duration("1m30s") == 90'000ms);
  CHECK_FALSE(parse_duration("").has_value());
  CHECK_FALSE(parse_duration("10").has_value());
  CHECK_FALSE(parse_duration("s").has_value());
  CHECK_FALSE(parse_duration("-5s").has_value());
  CHECK_FALSE(parse_duration("5d").has_value());
}

TEST_CASE("take_serve_flags: takes the reconciler's flags, leaves the server's") {
  serve_flags f;
  auto rest = take_serve_flags(
      {"--port", "9443", "--kubeconfig", "/k", "--reconcile=false", "--resync-period=30s",
       "--leader-elect-lease-duration", "20s", "--leader-elect-renew-deadline=12s",
       "--leader-elect-retry-period", "3s", "--log-format", "text"},
      f);
  REQUIRE(rest.has_value());
  CHECK(*rest == std::vector<std::string>{"--port", "9443", "--log-format", "text"});
  CHECK(f.kubeconfig == "/k");
  CHECK_FALSE(f.reconcile);
  CHECK(f.resync_period == 30s);
  CHECK(f.lease_duration == 20s);
  CHECK(f.renew_deadline == 12s);
  CHECK(f.retry_period == 3s);

  serve_flags d;
  REQUIRE(take_serve_flags({}, d).has_value());
  CHECK(d.reconcile);
  CHECK(d.resync_period == 10min);
  CHECK(d.lease_duration == 15s);
  CHECK(d.renew_deadline == 10s);
  CHECK(d.retry_period == 2s);
}

TEST_CASE("take_serve_flags: bad values are clear errors") {
  serve_flags f;
  CHECK(take_serve_flags({"--reconcile=maybe"}, f).error().message.find("true or false") !=
        std::string::npos);
  CHECK_FALSE(take_serve_flags({"--kubeconfig"}, f).has_value());
  CHECK_FALSE(take_serve_flags({"--resync-period", "often"}, f).has_value());
  serve_flags g;
  CHECK(take_serve_flags({"--leader-elect-lease-duration=5s"}, g)
            .error()
            .message.find("greater than --leader-elect-renew-deadline") != std::string::npos);
}

TEST_CASE("start_reconciler: off, or no cluster access -> admission only (null)") {
  serve_flags f;
  f.reconcile = false;
  CHECK(start_reconciler(f, {}) == nullptr);
  CHECK(make_reconciler(f) == nullptr);
  serve_flags g;  // no --kubeconfig; KUBERNETES_SERVICE_HOST unset in the test environment
  unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK(start_reconciler(g, {}) == nullptr);
  serve_flags h;
  h.kubeconfig = "/nonexistent/kubeconfig";
  CHECK_THROWS(start_reconciler(h, {}));
}
