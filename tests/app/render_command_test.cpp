// `mlnetpol render` end to end: runs the built binary.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/files.hpp"
#include "tests/support/process.hpp"

namespace {

struct run_result {
  int exit_code = -1;
  std::string out;  // stdout; stderr goes to err
  std::string err;
};

const std::filesystem::path source_dir = MLNETPOL_SOURCE_DIR;

using mlnetpol::testing::read_text;
using mlnetpol::testing::temp_file;

run_result run_render(const std::string& args) {
  const mlnetpol::testing::temp_dir scratch("mlnetpol-render-test");
  const auto err_path = scratch.path / "stderr";
  const std::string cmd =
      std::string(MLNETPOL_BINARY) + " render " + args + " 2>" + err_path.string();
  auto ran = mlnetpol::testing::run_command(cmd);
  run_result r;
  r.exit_code = ran.status;
  r.out = std::move(ran.out);
  r.err = read_text(err_path);
  return r;
}

std::string config_path(const std::string& name) {
  return (source_dir / "tests" / "render" / "configs" / (name + ".yaml")).string();
}

std::string golden(const std::string& file) {
  return read_text(source_dir / "tests" / "render" / "golden" / file);
}

}  // namespace

TEST_CASE("render command: the test configurations reproduce the goldens") {
  for (const char* name : {"basic", "enhanced", "multi-tenant", "standard-ml-on"}) {
    CAPTURE(name);
    const auto json = run_render("--config " + config_path(name) + " -o json");
    CHECK(json.exit_code == 0);
    // Standard mode without api_server_cidrs warns (stderr only, the output stays the golden).
    const bool standard = std::string(name) == "basic" || std::string(name) == "standard-ml-on";
    CHECK(json.err ==
          (standard ? "mlnetpol render: warning: api_server_cidrs is empty: secured pods may reach "
                      "TCP 443, 6443 at any address, not only the Kubernetes API; set it to the "
                      "CIDRs of the API server endpoints (kubectl get endpoints kubernetes)\n"
                    : ""));
    CHECK(json.out == golden(std::string(name) + ".json"));
    const auto yaml = run_render("--config=" + config_path(name));  // yaml is the default
    CHECK(yaml.exit_code == 0);
    CHECK(yaml.out == golden(std::string(name) + ".yaml"));
  }
  const auto dot = run_render("--config " + config_path("enhanced") + " -o dot");
  CHECK(dot.exit_code == 0);
  CHECK(dot.out == golden("enhanced.dot"));
}

TEST_CASE("render command: --summary prints the module's outputs") {
  const auto r = run_render("--config " + config_path("enhanced") + " --summary");
  REQUIRE(r.exit_code == 0);
  const auto summary = nlohmann::json::parse(r.out);
  CHECK(summary["cilium_mode_enabled"] == true);
  CHECK(summary["ml_policies_enabled"] == true);
  CHECK(summary["secured_namespaces"].size() == 7);
  const auto list = nlohmann::json::parse(golden("enhanced.json"));
  // The module's policy_count: the namespaces' policies; the listing ends with the cluster-wide one.
  CHECK(summary["policy_count"] == list["items"].size() - 1);
  CHECK(list["items"].back()["kind"] == "CiliumClusterwideNetworkPolicy");
}

TEST_CASE("render command: without --config it renders the module's defaults") {
  const auto r = run_render("-o json --namespace training");
  REQUIRE(r.exit_code == 0);
  const auto list = nlohmann::json::parse(r.out);
  CHECK(list["kind"] == "List");
  REQUIRE(list["items"].size() == 4);
  for (const auto& item : list["items"]) {
    CHECK(item["kind"] == "NetworkPolicy");
    CHECK(item["metadata"]["namespace"] == "training");
  }
  // A namespace no list secures is an error (exit 2) that names the lists, not an empty List.
  const auto none = run_render("-o json --namespace nowhere");
  CHECK(none.exit_code == 2);
  CHECK(none.out.empty());
  CHECK(none.err.find("namespace 'nowhere' gets no policies under this configuration") !=
        std::string::npos);
  CHECK(none.err.find("training") != std::string::npos);
  CHECK(none.err.find("add it to platform_namespaces") != std::string::npos);
}

TEST_CASE("render command: permissive settings are warned about, on stderr only") {
  const auto cidrs = run_render("--config " + config_path("standard-api-cidrs") + " -o json");
  CHECK(cidrs.exit_code == 0);
  CHECK(cidrs.err.empty());
  const auto open = run_render("-o json");  // the defaults: standard mode, no api_server_cidrs
  CHECK(open.exit_code == 0);
  CHECK(open.err.find("warning: api_server_cidrs is empty") != std::string::npos);
  CHECK(nlohmann::json::parse(open.out)["kind"] == "List");
  const auto cilium = run_render("--config " + config_path("enhanced") + " -o json");
  CHECK(cilium.err.empty());  // Cilium names the API server itself
}

TEST_CASE("render command: a configuration that cuts the cluster's traffic is refused") {
  const temp_file cut("tenant_namespaces: [team-a, kube-system]\n", "cut.yaml");
  const auto r = run_render("--config " + cut.path.string());
  CHECK(r.exit_code != 0);
  CHECK(r.out.empty());
  CHECK(r.err.find("tenant_namespaces[1]: \"kube-system\" must not be secured") !=
        std::string::npos);
}

TEST_CASE("render command: bad flags and bad configurations get clear errors") {
  auto r = run_render("--bogus");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown argument '--bogus'") != std::string::npos);
  r = run_render("-o xml");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown output format 'xml'") != std::string::npos);
  r = run_render("--config");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--config needs a value") != std::string::npos);
  r = run_render("--help");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("usage: mlnetpol render") != std::string::npos);

  r = run_render("--config /no/such/file.yaml");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("/no/such/file.yaml") != std::string::npos);
  CHECK(r.out.empty());

  const temp_file bad("cilium_mode: true\ntraining_egress_fqdns: [\"https://s3.amazonaws.com\"]\n");
  r = run_render("--config " + bad.path.string());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("training_egress_fqdns") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("render command: a 30,000-digit plain scalar is an error, not a crash") {
  const temp_file digits("training_metrics_ports: [" + std::string(30000, '7') + "]\n");
  const auto r = run_render("--config " + digits.path.string());
  CHECK(r.exit_code == 2);  // the regex scanner overflowed the stack here (killed: -1)
  CHECK(r.err.find("training_metrics_ports[0]: wrong type") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("render command: --admission-policies prints the policies and bindings") {
  const auto yaml = run_render("--config " + config_path("multi-tenant") +
                               " --admission-policies v1beta1");
  CHECK(yaml.exit_code == 0);
  CHECK(yaml.out.find("apiVersion: admissionregistration.k8s.io/v1beta1\nkind: "
                      "ValidatingAdmissionPolicy\n") != std::string::npos);
  CHECK(yaml.out.find("kind: ValidatingAdmissionPolicyBinding\n") != std::string::npos);
  CHECK(yaml.out.find("kind: NetworkPolicy") == std::string::npos);
  const auto json = run_render("--config " + config_path("multi-tenant") +
                               " --admission-policies v1 -o json");
  CHECK(json.exit_code == 0);
  CHECK(json.out.find("\"apiVersion\": \"admissionregistration.k8s.io/v1\"") != std::string::npos);

  const auto bad = run_render("--admission-policies v2");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("unknown --admission-policies version 'v2' (v1 or v1beta1)") !=
        std::string::npos);
  const auto dot = run_render("--admission-policies v1 -o dot");
  CHECK(dot.exit_code == 2);
  CHECK(dot.err.find("takes neither --namespace, --summary nor -o dot") != std::string::npos);
  CHECK(run_render("--help").out.find("--admission-policies VERSION") != std::string::npos);
}
