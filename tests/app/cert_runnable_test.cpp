// --cert-* flags: taken out of serve's arguments, checked, turned into the manager's options.
#include <doctest/doctest.h>

#include "app/cert_runnable.hpp"
#include "tests/app/usage_default.hpp"

using namespace mlnetpol::app;
using namespace std::chrono_literals;

namespace {

// A parser with the certificate flags beside the reconciler's, as serve_command declares them.
mlnetpol::result<void> parse_cert_flags(std::vector<std::string_view> args, cert_flags& f) {
  reconciler_flags s;
  mlnetpol::flags::parser p;
  declare(p, s);
  declare(p, f);
  if (auto r = p.parse(args); !r) return r.error();
  return check(f);
}

}  // namespace

TEST_CASE("cert flags: parsed beside serve's others, build the options") {
  cert_flags f;
  auto rest = parse_cert_flags(
      {"--cert-management=self", "--cert-extra-san", "127.0.0.1",
       "--cert-extra-san=webhook.local", "--cert-serving-lifetime=30s", "--cert-ca-lifetime", "90s",
       "--cert-propagation=2s", "--cert-secret-namespace=ns1", "--kubeconfig", "/k"},
      f);
  REQUIRE(rest.has_value());
  CHECK(f.mode == cert_mode::self);
  const auto o = cert_options(f);
  CHECK(o.secret_namespace == "ns1");
  CHECK(o.secret_name == "mlnetpol-tls");
  CHECK(o.rotation.names.namespace_name == "ns1");
  CHECK(o.rotation.names.extra_ips == std::vector<std::string>{"127.0.0.1"});
  CHECK(o.rotation.names.extra_dns == std::vector<std::string>{"webhook.local"});
  CHECK(o.rotation.serving_lifetime == 30s);
  CHECK(o.rotation.ca_lifetime == 90s);
  CHECK(o.rotation.propagation == 2s);
  CHECK(o.mutating_webhook == "mlnetpol");
  CHECK(o.validating_webhook == "mlnetpol");

  cert_flags d;
  REQUIRE(parse_cert_flags({}, d).has_value());
  CHECK(d.mode == cert_mode::external);  // `make run`, cert-manager
  CHECK(cert_options(d).rotation.ca_lifetime == std::chrono::hours(24 * 365));
  CHECK(cert_options(d).rotation.serving_lifetime == std::chrono::hours(24 * 90));
}

TEST_CASE("cert flags: bad values are clear errors") {
  cert_flags f;
  CHECK(parse_cert_flags({"--cert-management=auto"}, f).error().message.find("self or external") !=
        std::string::npos);
  CHECK_FALSE(parse_cert_flags({"--cert-ca-lifetime"}, f).has_value());
  CHECK_FALSE(parse_cert_flags({"--cert-propagation=soon"}, f).has_value());
  CHECK(parse_cert_flags({"--cert-servce=x"}, f).error().message.find("--cert-service") !=
        std::string::npos);
  cert_flags g;
  CHECK(parse_cert_flags(
            {"--cert-management=self", "--cert-ca-lifetime=100h", "--cert-serving-lifetime=90h"}, g)
            .error()
            .message.find("three serving lifetimes") != std::string::npos);
  cert_flags h;
  CHECK_FALSE(
      parse_cert_flags({"--cert-management=self", "--cert-service=Bad_Name"}, h).has_value());
}

TEST_CASE("webhook flags: whole repair by default, the Service or a URL, fail-open for audit") {
  cert_flags f;
  REQUIRE(parse_cert_flags({"--cert-management=self", "--cert-service=guard",
                            "--cert-secret-namespace=platform"},
                           f)
              .has_value());
  CHECK(f.repair_whole);
  auto r = webhook_render_options(f);
  CHECK(r.service == "guard");
  CHECK(r.service_namespace == "platform");
  CHECK(r.url_base.empty());
  CHECK_FALSE(r.fail_open);
  cert_flags g;
  REQUIRE(parse_cert_flags({"--webhook-repair=ca-bundle", "--webhook-url=https://127.0.0.1:9443",
                            "--webhook-failure-policy=Ignore"},
                           g)
              .has_value());
  CHECK_FALSE(g.repair_whole);
  r = webhook_render_options(g);
  CHECK(r.url_base == "https://127.0.0.1:9443");
  CHECK(r.fail_open);
  CHECK_FALSE(r.workloads_fail_closed);
  cert_flags k;
  REQUIRE(parse_cert_flags({"--webhook-failure-policy=workloads-fail"}, k).has_value());
  r = webhook_render_options(k);
  CHECK_FALSE(r.fail_open);
  CHECK(r.workloads_fail_closed);
  for (std::string_view bad : {"--webhook-repair=some", "--webhook-url=http://x",
                               "--webhook-failure-policy=Fail", "--webhook-url=https://"}) {
    cert_flags h;
    CHECK_FALSE(parse_cert_flags({bad}, h).has_value());
  }
}

TEST_CASE("cert flags: the defaults are the controller's, and the usage text names them") {
  const cert_flags d;
  const auto o = cert_options(d);
  const mlnetpol::controller::cert_manager_options defaults;
  CHECK(o.secret_name == defaults.secret_name);
  CHECK(o.mutating_webhook == defaults.mutating_webhook);
  CHECK(o.validating_webhook == defaults.validating_webhook);
  CHECK(o.check_interval == defaults.check_interval);
  CHECK(o.rotation.names.service == defaults.rotation.names.service);
  CHECK(o.rotation.ca_lifetime == defaults.rotation.ca_lifetime);
  CHECK(o.rotation.serving_lifetime == defaults.rotation.serving_lifetime);
  CHECK(o.rotation.propagation == defaults.rotation.propagation);
  CHECK(o.rotation.clock_margin == defaults.rotation.clock_margin);
  // Each duration flag's "(default D)" in the usage text is the struct's value.
  const std::string usage = cert_flags_usage();
  const std::pair<const char*, std::chrono::milliseconds> durations[] = {
      {"--cert-ca-lifetime", defaults.rotation.ca_lifetime},
      {"--cert-serving-lifetime", defaults.rotation.serving_lifetime},
      {"--cert-propagation", defaults.rotation.propagation},
      {"--cert-clock-margin", defaults.rotation.clock_margin},
      {"--cert-check-interval", defaults.check_interval},
  };
  for (const auto& [flag, value] : durations) {
    CAPTURE(flag);
    CHECK(mlnetpol::testing::usage_default(usage, flag) == value);
  }
  CHECK(usage.find("(default " + defaults.secret_name + ")") != std::string::npos);
  CHECK(usage.find("(default " + defaults.rotation.names.service + ")") != std::string::npos);
}
