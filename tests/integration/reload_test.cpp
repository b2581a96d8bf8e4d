// Certificate and configuration hot reload, the way Kubernetes volumes change files: the visible
// names are symlinks into a `..data` directory link that is swapped atomically.
#include <doctest/doctest.h>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;
namespace fs = std::filesystem;

TEST_CASE("certificate hot reload: new handshakes get the new pair, open connections stay") {
  const auto first = fresh_pair();
  const auto second = fresh_pair();
  REQUIRE(serial_of_pem(first.cert_pem) != serial_of_pem(second.cert_pem));
  running_server s(
      [](auto& o) {
        o.tls_cert_file = (fs::path(o.tls_cert_file).parent_path() / "secret" / "tls.crt").string();
        o.tls_key_file = (fs::path(o.tls_key_file).parent_path() / "secret" / "tls.key").string();
      },
      [&](const fs::path& dir) {
        publish(dir / "secret", "v1", {{"tls.crt", first.cert_pem}, {"tls.key", first.key_pem}});
      });
  const fs::path secret = s.dir.path / "secret";

  tls_client before(s.port(), first.ca_cert_pem);
  before.connect();
  CHECK(before.peer_serial() == serial_of_pem(first.cert_pem));
  CHECK(before.request("POST", "/mutate", namespace_review()).status == 200);
  const double first_expiry = s.srv->stats().certificate_expiry();

  publish(secret, "v2", {{"tls.crt", second.cert_pem}, {"tls.key", second.key_pem}});
  CHECK(eventually([&] {
    try {
      tls_client c(s.port(), second.ca_cert_pem);
      c.connect();
      return c.peer_serial() == serial_of_pem(second.cert_pem);
    } catch (const boost::system::system_error&) {
      return false;  // still the first pair, which the second CA does not trust
    }
  }));
  // The connection made before the swap keeps working on its session.
  CHECK(before.request("POST", "/mutate", namespace_review()).status == 200);
  CHECK(s.srv->stats().certificate_expiry() >= first_expiry);

  SUBCASE("a bad new pair keeps the old one") {
    publish(secret, "v3", {{"tls.crt", first.cert_pem}, {"tls.key", second.key_pem}});
    std::this_thread::sleep_for(400ms);  // several polls
    tls_client c(s.port(), second.ca_cert_pem);
    c.connect();
    CHECK(c.peer_serial() == serial_of_pem(second.cert_pem));
    CHECK(s.srv->ready());

    publish(secret, "v4", {{"tls.crt", "not a certificate"}, {"tls.key", second.key_pem}});
    std::this_thread::sleep_for(400ms);
    tls_client d(s.port(), second.ca_cert_pem);
    d.connect();
    CHECK(d.peer_serial() == serial_of_pem(second.cert_pem));
    CHECK(d.request("POST", "/validate", namespace_review()).status == 200);
  }
  SUBCASE("SIGHUP's reload_now() does not wait for the poll") {
    s.srv->reload_now();
    tls_client c(s.port(), second.ca_cert_pem);
    c.connect();
    CHECK(c.peer_serial() == serial_of_pem(second.cert_pem));
  }
}

TEST_CASE("configuration hot reload: good files apply, bad ones keep the last good one") {
  running_server s(
      [](auto& o) {
        o.config_file = (fs::path(o.tls_cert_file).parent_path() / "cm" / "config.yaml").string();
      },
      [](const fs::path& dir) {
        publish(dir / "cm", "v1", {{"config.yaml", "tenant_namespaces: [team-a]\n"}});
      });
  const fs::path cm = s.dir.path / "cm";
  REQUIRE(s.applied_count() == 1);
  CHECK(s.last_applied().tenant_namespaces == std::vector<std::string>{"team-a"});
  tls_client c(s.port());
  c.connect();
  CHECK(plain_get(s.srv->metrics_port(), "/status").body == R"({"tenants":1})");

  publish(cm, "v2", {{"config.yaml", "tenant_namespaces: [team-a, team-b]\ncilium_mode: true\n"}});
  REQUIRE(eventually([&] { return s.applied_count() == 2; }));
  CHECK(s.last_applied().tenant_namespaces == std::vector<std::string>{"team-a", "team-b"});
  CHECK(s.last_applied().cilium_mode);
  CHECK(plain_get(s.srv->metrics_port(), "/status").body == R"({"tenants":2})");
  auto metrics = plain_get(s.srv->metrics_port(), "/metrics").body;
  CHECK(metrics.find("mlnetpol_cilium_mode_enabled 1") != std::string::npos);
  CHECK(metrics.find("mlnetpol_secured_namespaces 2") != std::string::npos);

  publish(cm, "v3", {{"config.yaml", "tenant_namespaces: 42\n"}});
  REQUIRE(eventually([&] { return s.srv->config_reload_failures() == 1; }));
  std::this_thread::sleep_for(300ms);  // more polls of the same bad file count once
  CHECK(s.srv->config_reload_failures() == 1);
  CHECK(s.applied_count() == 2);
  CHECK(plain_get(s.srv->metrics_port(), "/status").body == R"({"tenants":2})");
  CHECK(c.request("GET", "/readyz", "", "").status == 200);
  CHECK(c.request("POST", "/mutate", namespace_review()).status == 200);

  publish(cm, "v4", {{"config.yaml", "tenant_namespaces: []\n"}});
  REQUIRE(eventually([&] { return s.applied_count() == 3; }));
  CHECK(plain_get(s.srv->metrics_port(), "/status").body == R"({"tenants":0})");
  CHECK(plain_get(s.srv->metrics_port(), "/metrics")
            .body.find("mlnetpol_config_reload_failures_total 1") != std::string::npos);
}

TEST_CASE("without --config the embedded defaults are in force") {
  running_server s;
  REQUIRE(s.applied_count() == 1);
  CHECK(s.last_applied() == mlnetpol::policy::config{});
}
