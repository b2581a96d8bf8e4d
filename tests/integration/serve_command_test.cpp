// `mlnetpol serve` end to end in this process: the real engine wired in by the serve command, real
// signals (SIGHUP reload, SIGTERM drain), exit codes.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;
using json = nlohmann::json;

TEST_CASE("serve: flag errors exit 2, --help exits 0, a bad config file exits 2") {
  CHECK(run_serve({"--port", "nope"}) == 2);
  CHECK(run_serve({"--help"}) == 0);
  temp_dir dir;
  mlnetpol::certs::write_files(shared_pair(), dir.path, true);
  write_text(dir.path / "bad.yaml", "tenant_namespaces: 5\n");
  CHECK(run_serve({"--port", "0", "--metrics-bind-address", "0", "--log-level", "off",
                   "--tls-cert-file", (dir.path / "tls.crt").string(), "--tls-key-file",
                   (dir.path / "tls.key").string(), "--config",
                   (dir.path / "bad.yaml").string()}) == 2);
}

TEST_CASE("serve: the real engine answers, SIGHUP reloads, SIGTERM drains and exits 0") {
  background_serve serve("tenant_namespaces: [team-a]\n",
                         {"--reload-interval", "1h", "--drain-idle-timeout", "500ms"},
                         /*metrics=*/true);
  REQUIRE(serve.wait_ready());
  const std::uint16_t port = serve.port;
  const std::uint16_t metrics_port = serve.metrics_port;
  tls_client c(port);
  c.connect();
  const std::string body = fixture("pod-create-kubectl-run.json");
  auto r = c.request("POST", "/mutate?timeout=5s", body);
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["response"]["uid"] == json::parse(body)["request"]["uid"]);
  auto status = json::parse(plain_get(metrics_port, "/status").body);
  CHECK(status["secured_namespaces"].dump().find("team-a") != std::string::npos);

  write_text(serve.dir.path / "config.yaml", "tenant_namespaces: [team-b]\n");
  ::kill(::getpid(), SIGHUP);
  CHECK(eventually(
      [&] { return plain_get(metrics_port, "/status").body.find("team-b") != std::string::npos; }));

  // `c` stays idle: the drain closes it after the drain window, then serve exits.
  ::kill(::getpid(), SIGTERM);
  REQUIRE(serve.exit_code.wait_for(5s) == std::future_status::ready);
  CHECK(serve.exit_code.get() == 0);
}
