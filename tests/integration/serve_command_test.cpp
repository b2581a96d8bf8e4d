// `mlnetpol serve` end to end in this process: the real engine wired in by the serve command, real
// signals (SIGHUP reload, SIGTERM drain), exit codes.
#include <csignal>
#include <future>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;
using json = nlohmann::json;

namespace {

std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

int run_serve(std::vector<std::string> args) {
  args.insert(args.begin(), "mlnetpol serve");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return mlnetpol::app::serve_command(static_cast<int>(args.size()), argv.data());
}

}  // namespace

TEST_CASE("serve: flag errors exit 2, --help exits 0, a bad config file exits 1") {
  CHECK(run_serve({"--port", "nope"}) == 2);
  CHECK(run_serve({"--help"}) == 0);
  temp_dir dir;
  mlnetpol::certs::write_files(shared_pair(), dir.path, true);
  write_text(dir.path / "bad.yaml", "tenant_namespaces: 5\n");
  CHECK(run_serve({"--port", "0", "--metrics-bind-address", "0", "--log-level", "off",
                   "--tls-cert-file", (dir.path / "tls.crt").string(), "--tls-key-file",
                   (dir.path / "tls.key").string(), "--config",
                   (dir.path / "bad.yaml").string()}) == 1);
}

TEST_CASE("serve: the real engine answers, SIGHUP reloads, SIGTERM drains and exits 0") {
  temp_dir dir;
  mlnetpol::certs::write_files(shared_pair(), dir.path, true);
  write_text(dir.path / "config.yaml", "tenant_namespaces: [team-a]\n");
  const std::uint16_t port = free_port();
  const std::uint16_t metrics_port = free_port();
  auto exit_code = std::async(std::launch::async, [&] {
    return run_serve({"--port",
                      std::to_string(port),
                      "--bind-address",
                      "127.0.0.1",
                      "--metrics-bind-address",
                      "127.0.0.1:" + std::to_string(metrics_port),
                      "--threads",
                      "2",
                      "--log-level",
                      "off",
                      "--reload-interval",
                      "1h",
                      "--drain-idle-timeout",
                      "500ms",
                      "--tls-cert-file",
                      (dir.path / "tls.crt").string(),
                      "--tls-key-file",
                      (dir.path / "tls.key").string(),
                      "--config",
                      (dir.path / "config.yaml").string()});
  });
  // Ready means the I/O loop runs, so the signal handlers are installed.
  REQUIRE(eventually(
      [&] {
        try {
          tls_client c(port);
          c.connect();
          return c.request("GET", "/readyz", "", "").status == 200;
        } catch (const boost::system::system_error&) {
          return false;
        }
      },
      5000ms));
  tls_client c(port);
  c.connect();
  const std::string body = fixture("pod-create-kubectl-run.json");
  auto r = c.request("POST", "/mutate?timeout=5s", body);
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["response"]["uid"] == json::parse(body)["request"]["uid"]);
  auto status = json::parse(plain_get(metrics_port, "/status").body);
  CHECK(status["secured_namespaces"].dump().find("team-a") != std::string::npos);

  write_text(dir.path / "config.yaml", "tenant_namespaces: [team-b]\n");
  ::kill(::getpid(), SIGHUP);
  CHECK(eventually(
      [&] { return plain_get(metrics_port, "/status").body.find("team-b") != std::string::npos; }));

  // `c` stays idle: the drain closes it after the drain window, then serve exits.
  ::kill(::getpid(), SIGTERM);
  REQUIRE(exit_code.wait_for(5s) == std::future_status::ready);
  CHECK(exit_code.get() == 0);
}
