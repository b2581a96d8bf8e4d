// `mlnetpol serve`'s flags: one parser over the server's, the reconciler's and the certificate
// flags (runs the built binary; every case here exits before serving).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace {

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

run_result serve(const std::vector<std::string>& args) {
  REQUIRE_MESSAGE(std::filesystem::exists(MLNETPOL_BINARY), "build the mlnetpol target first");
  std::string cmd = std::string(MLNETPOL_BINARY) + " serve";
  for (const auto& a : args) cmd += " " + mlnetpol::testing::shell_quote(a);
  auto r = mlnetpol::testing::run_command(cmd + " 2>&1");
  REQUIRE(r.status >= 0);
  return {r.status, std::move(r.out)};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("serve --help lists every part's flags") {
  const auto r = serve({"--help"});
  CHECK(r.exit_code == 0);
  for (const char* flag : {"--port", "--shutdown-grace", "--log-denies", "--kubeconfig",
                           "--reconcile", "--leader-elect-retry-period", "--cert-management",
                           "--cert-extra-san"}) {
    CAPTURE(flag);
    CHECK(has(r.output, flag));
  }
}

TEST_CASE("serve: an unknown flag is matched against every part's flags") {
  struct near {
    const char* typo;
    const char* meant;
  };
  for (const auto& [typo, meant] : {near{"--shutdown-grase=1s", "--shutdown-grace"},
                                    near{"--kubeconfg=/k", "--kubeconfig"},
                                    near{"--cert-managment=self", "--cert-management"}}) {
    CAPTURE(typo);
    const auto r = serve({typo});
    CHECK(r.exit_code == 2);
    CHECK(has(r.output, "mlnetpol serve: unknown flag"));
    CHECK(has(r.output, meant));
  }
}

TEST_CASE("serve: one duration syntax and the parts' checks") {
  auto r = serve({"--resync-period", "often"});
  CHECK(r.exit_code == 2);
  CHECK(has(r.output, "--resync-period: not a duration (like 500ms, 10s, 2m): 'often'"));
  r = serve({"--leader-elect-lease-duration=5s"});
  CHECK(r.exit_code == 2);
  CHECK(has(r.output, "greater than --leader-elect-renew-deadline"));
  r = serve({"--cert-management=self", "--cert-ca-lifetime=100h", "--cert-serving-lifetime=90h"});
  CHECK(r.exit_code == 2);
  CHECK(has(r.output, "three serving lifetimes"));
}

TEST_CASE("serve: cluster access that does not load stops start-up with one clear error") {
  auto r = serve({"--kubeconfig", "/nonexistent/kubeconfig"});
  CHECK(r.exit_code == 2);
  CHECK(has(r.output, "mlnetpol serve: --kubeconfig: "));
  CHECK(has(r.output, "/nonexistent/kubeconfig"));
  // Self-managed certificates with no --kubeconfig, outside a pod: the same way.
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  r = serve({"--cert-management=self"});
  CHECK(r.exit_code == 2);
  CHECK(has(r.output, "--cert-management=self needs the API server"));
  CHECK(has(r.output, "not running in a pod"));
}
