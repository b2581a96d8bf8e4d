// `mlnetpol review` end to end: runs the built binary on fixtures and examples.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/files.hpp"
#include "tests/support/process.hpp"
#include "tests/support/trainjob.hpp"

namespace {

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

using mlnetpol::testing::shell_quote;

run_result run(const std::string& args, const std::string& stdin_file = "") {
  std::string command = shell_quote(MLNETPOL_BINARY) + " review " + args;
  if (!stdin_file.empty()) command += " < " + shell_quote(stdin_file);
  auto r = mlnetpol::testing::run_command(command + " 2>&1");
  return {r.status, std::move(r.out)};
}

std::string example(const std::string& name) {
  return shell_quote(std::string(MLNETPOL_SOURCE_DIR) + "/examples/" + name);
}
std::string fixture_path(const std::string& name) {
  return std::string(MLNETPOL_FIXTURES_DIR) + "/admission/" + name;
}

using temp_config = mlnetpol::testing::temp_file;

bool has(const run_result& r, const std::string& text) {
  return r.output.find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("review: the examples, with exit codes and output") {
  struct row {
    std::string args;
    int exit_code;
    std::vector<std::string> output;
  };
  const std::vector<row> rows{
      {example("pod-create-training-namespace.json"),
       0,
       {"mutating webhook (/mutate): patched (enforcement_mode enforce)",
        "\"patchType\": \"JSONPatch\"",
        "patch (decoded):", "\"path\": \"/metadata/labels/workload-type\"",
        "\"mlnetpol.io/workload-type-source\": \"namespace:training\"",
        "validating webhook (/validate), on the mutated object: allowed",
        "labels of the mutated object:\n  metadata.labels:\n    run: nginx\n    workload-type: "
        "training\n",
        "result: allowed"}},
      {example("pod-create-denied-gpu-miner.json"),
       1,
       {"mutating webhook (/mutate): allowed", "patch (decoded):\n(none)",
        "validating webhook (/validate), on the mutated object: denied", "\"code\": 403",
        "pod \\\"miner\\\" in namespace \\\"training\\\" has label workload-type=gpu-miner",
        "Fix: set metadata.labels.workload-type: training on the pod", "result: denied"}},
      {"--mode warn " + example("pod-create-denied-gpu-miner.json"),
       0,
       {"on the mutated object: warned", "\"warnings\": [", "result: allowed"}},
      {"--mode=audit " + example("pod-create-training-namespace.json"),
       0,
       {"mutating webhook (/mutate): audited (enforcement_mode audit)",
        "would add label workload-type=training (inferred from namespace training (training-only))",
        "\"would-add-label\": \"workload-type=training (namespace:training)\"",
        "patch (decoded):\n(none)", "    run: nginx\n\nresult: allowed"}},
      {example("pod-create-denied-host-network.json"),
       1,
       {"spec.hostNetwork: true", "bypasses every network policy", "result: denied"}},
      {example("pytorchjob-create-mlops.json"),
       0,
       {"spec.pytorchReplicaSpecs.Master.template.metadata.labels:\n    app: mnist\n    "
        "workload-type: training",
        "spec.pytorchReplicaSpecs.Worker.template.metadata.labels:\n    app: mnist\n    "
        "workload-type: training",
        "\"mlnetpol.io/workload-type-source\": \"owner:PyTorchJob\""}},
      {"--config " + example("config.yaml") + " " + example("pod-create-denied-gpu-miner.json"),
       0,
       {"enforcement_mode audit", "would deny: pod \\\"miner\\\"", "\"would-deny\":"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.args);
    const run_result result = run(r.args);
    CAPTURE(result.output);
    CHECK(result.exit_code == r.exit_code);
    for (const auto& part : r.output) {
      CAPTURE(part);
      CHECK(has(result, part));
    }
  }
}

TEST_CASE("review: fixtures with a config naming their namespace") {
  temp_config cfg("ml_training_namespaces: [ml-training]\nadmin_groups: []\n");
  const std::string config = "--config " + shell_quote(cfg.path.string()) + " ";
  struct row {
    const char* file;
    int exit_code;
    const char* expected;
  };
  for (const auto& r : std::initializer_list<row>{
           {"pod-create-no-labels.json", 0,
            "\"op\": \"add\",\n    \"path\": \"/metadata/labels\",\n    \"value\": {\n      "
            "\"workload-type\": \"training\""},
           {"pod-create-workload-type-training.json", 0, "patch (decoded):\n(none)"},
           {"deployment-create.json", 0,
            "spec.template.metadata.labels:\n    app: web\n    workload-type: training"},
           {"job-create.json", 0,
            "\"mlnetpol.io/workload-type-source\": \"namespace:ml-training\""},
           {"networkpolicy-update.json", 1, "is managed by mlnetpol"},
           {"pod-delete.json", 0, "(no object in the request)"},
       }) {
    CAPTURE(r.file);
    const run_result result = run(config + shell_quote(fixture_path(r.file)));
    CAPTURE(result.output);
    CHECK(result.exit_code == r.exit_code);
    CHECK(has(result, r.expected));
  }
}

TEST_CASE("review: stdin with '-'") {
  const run_result r = run("-", fixture_path("pod-create-kubectl-run.json"));
  CHECK(r.exit_code == 0);
  CHECK(has(r, "\"uid\": \"664d79a2-a1e2-49f7-b0a7-06f70fe8f8fd\""));
}

TEST_CASE("review: bad input exits 2 with a message") {
  temp_config not_json("this is not json");
  temp_config bad_config("enforcment_mode: warn\n");
  struct row {
    std::string args;
    int exit_code;
    std::string expected;
  };
  const std::vector<row> rows{
      {"", 2, "no input file"},
      {"/nonexistent/review.json", 2, "/nonexistent/review.json: cannot open: No such file or directory"},
      {shell_quote(not_json.path.string()), 2,
       "mlnetpol review: " + not_json.path.string() + "#1: not a Kubernetes object"},
      {"--mode block " + example("pod-create-training-namespace.json"), 2,
       "--mode: \"block\" is not enforce, warn or audit"},
      {"--config " + shell_quote(bad_config.path.string()) + " " +
           example("pod-create-training-namespace.json"),
       2,
       bad_config.path.string() +
           ": enforcment_mode: unknown key; did you mean \"enforcement_mode\"?"},
      {"--bogus x", 2, "unknown flag --bogus"},
      {"--help", 0, "exit status: 0 allowed by both webhooks, 1 denied by either (any object)"},
      {"-o xml " + example("pod-create-training-namespace.json"), 2, "--output needs text or json"},
      {"-o json " + example("pod-create-training-namespace.json"), 2,
       "-o json is for manifests, not AdmissionReviews"},
      {"--namespace", 2, "--namespace needs a namespace name"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.args);
    const run_result result = run(r.args);
    CAPTURE(result.output);
    CHECK(result.exit_code == r.exit_code);
    CHECK(has(result, r.expected));
  }
}

TEST_CASE("the examples are AdmissionReview requests and the Makefile's curl example exists") {
  for (const char* name : {"pod-create-training-namespace.json", "pod-create-denied-gpu-miner.json",
                           "pod-create-denied-host-network.json", "pytorchjob-create-mlops.json"}) {
    CAPTURE(name);
    std::ifstream in(std::string(MLNETPOL_SOURCE_DIR) + "/examples/" + name);
    REQUIRE(in.good());
    const auto review = nlohmann::json::parse(in);
    CHECK(review["kind"] == "AdmissionReview");
    CHECK(review["apiVersion"] == "admission.k8s.io/v1");
    CHECK(review["request"]["uid"].is_string());
  }
  std::ifstream makefile(std::string(MLNETPOL_SOURCE_DIR) + "/Makefile");
  const std::string text((std::istreambuf_iterator<char>(makefile)),
                         std::istreambuf_iterator<char>());
  CHECK(text.find("examples/pod-create-training-namespace.json") != std::string::npos);
}

namespace {

// A temporary directory of manifest files, removed at the end of the test.
struct manifest_dir {
  std::string add(const std::string& name, const std::string& text) {
    const auto file = scratch.path / name;
    std::filesystem::create_directories(file.parent_path());
    mlnetpol::testing::write_text(file, text);
    return file.string();
  }
  mlnetpol::testing::temp_dir scratch{"mlnetpol-review-manifests"};
  const std::filesystem::path& path = scratch.path;
};

const char* training_pod = R"(apiVersion: v1
kind: Pod
metadata:
  name: trainer
  namespace: training
spec:
  containers: [{name: c, image: pytorch}]
)";

const char* host_network_pod = R"(apiVersion: v1
kind: Pod
metadata: {name: miner, namespace: training}
spec:
  hostNetwork: true
  containers: [{name: c, image: x}]
)";

const char* deployment_without_namespace = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
)";

}  // namespace

TEST_CASE("review: plain manifests, multi-document YAML, one line per object") {
  manifest_dir dir;
  const std::string file =
      dir.add("app.yaml", std::string(training_pod) + "---\n" + deployment_without_namespace +
                              "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, "
                              "namespace: serving}\nspec: {ports: [{port: 80}]}\n---\n");
  const run_result r = run(shell_quote(file));
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(has(r,
            "Pod training/trainer: would be patched: add /metadata/labels="
            "{\"workload-type\":\"training\"}"));
  CHECK(has(r, "Deployment default/web: allowed\n"));  // "default" is no ML namespace
  CHECK(has(r,
            "Service serving/web: not reviewed: the webhooks are not called on CREATE of "
            "Service"));
  CHECK(has(r, "3 objects: 1 allowed, 1 would be patched, 0 denied, 1 not reviewed"));

  // --namespace places objects without one; objects with one keep theirs.
  const run_result placed = run("--namespace serving " + shell_quote(file));
  CHECK(placed.exit_code == 0);
  CHECK(has(placed,
            "Deployment serving/web: would be patched: add "
            "/spec/template/metadata/labels/workload-type=inference"));
  CHECK(has(placed, "Pod training/trainer: would be patched"));
}

TEST_CASE("review: a TrainJob is judged on spec.labels, the labels of its JobSet and Jobs") {
  manifest_dir dir;
  using mlnetpol::testing::trainjob_yaml;
  const std::string file = dir.add(
      "trainjobs.yaml", trainjob_yaml("training", "llm") + "---\n" +
                            trainjob_yaml("training", "miner", "  labels: {workload-type: gpu}\n"));
  const run_result r = run(shell_quote(file));
  CAPTURE(r.output);
  CHECK(r.exit_code == 1);
  CHECK(has(r,
            "TrainJob training/llm: would be patched: add /spec/labels="
            "{\"workload-type\":\"training\"}"));
  CHECK(has(r,
            "TrainJob training/miner: denied: TrainJob \"miner\" (spec.labels) in namespace "
            "\"training\" has label workload-type=gpu, which is not allowed here"));
  CHECK(has(r, "Fix: set spec.labels.workload-type: training"));

  // One AdmissionReview: the labels of the mutated object name spec.labels.
  const nlohmann::json review = mlnetpol::testing::as_trainjob_review(
      nlohmann::json::parse(std::ifstream(fixture_path("deployment-create.json"))), "training",
      {{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
       {"kind", "TrainJob"},
       {"metadata", {{"name", "llm"}, {"labels", {{"team", "nlp"}}}}},
       {"spec", {{"runtimeRef", {{"name", "torch-distributed"}}}}}});
  const run_result one = run(shell_quote(dir.add("review.json", review.dump())));
  CAPTURE(one.output);
  CHECK(one.exit_code == 0);
  CHECK(has(one,
            "labels of the mutated object:\n  metadata.labels:\n    team: nlp\n  spec.labels:\n"
            "    workload-type: training\n"));
}

TEST_CASE("review: a denied object fails the run (exit 1), as a merge-request gate") {
  manifest_dir dir;
  dir.add("ok/pod.yaml", training_pod);
  dir.add("bad/miner.yml", host_network_pod);
  dir.add("notes.txt", "not a manifest, not read");
  const run_result r = run(shell_quote(dir.path.string()));  // a directory: *.yaml, *.yml, *.json
  CAPTURE(r.output);
  CHECK(r.exit_code == 1);
  CHECK(has(r,
            "Pod training/miner: denied: pod \"miner\" in namespace \"training\" sets "
            "spec.hostNetwork: true"));
  CHECK(has(r, "Pod training/trainer: would be patched"));
  CHECK(has(r, "2 objects: 0 allowed, 1 would be patched, 1 denied, 0 not reviewed"));
  // Sorted by path: bad/ before ok/.
  CHECK(r.output.find("miner") < r.output.find("trainer"));

  // audit mode allows it: the same input passes.
  CHECK(run("--mode audit " + shell_quote(dir.path.string())).exit_code == 0);
}

TEST_CASE("review: JSON, v1 Lists and stdin; -o json for machines") {
  manifest_dir dir;
  const std::string list = dir.add("list.json", R"({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "training"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "miner", "namespace": "training"},
     "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x"}]}}]})");
  const run_result r = run("-o json -", list);
  CAPTURE(r.output);
  CHECK(r.exit_code == 1);
  const auto out = nlohmann::json::parse(r.output);
  REQUIRE(out["results"].size() == 2);
  CHECK(out["denied"] == 1);
  const auto& ns = out["results"][0];
  CHECK(ns["source"] == "stdin#1.items[0]");
  CHECK(ns["kind"] == "Namespace");
  CHECK(ns["namespace"] == "training");
  CHECK(ns["result"] == "patched");
  CHECK(ns["patch"].is_array());
  const auto& pod = out["results"][1];
  CHECK(pod["result"] == "denied");
  CHECK(pod["patch"].is_null());
  CHECK(pod["message"].get<std::string>().find("hostNetwork") != std::string::npos);
}

TEST_CASE("review: input that is not Kubernetes objects exits 2 and names the document") {
  manifest_dir dir;
  const std::string no_kind = dir.add("a.yaml", std::string(training_pod) + "---\nfoo: bar\n");
  const run_result r = run(shell_quote(no_kind));
  CHECK(r.exit_code == 2);
  CHECK(has(r, no_kind + "#2: not a Kubernetes object: apiVersion and kind are required"));
  const std::string broken = dir.add("b.yaml", "kind: Pod\n  bad: [indent\n");
  const run_result y = run(shell_quote(broken));
  CHECK(y.exit_code == 2);
  CHECK(has(y, broken + ":2:"));
  CHECK(has(y, "invalid YAML"));
  const std::string empty = dir.add("c.yaml", "# nothing here\n---\n");
  const run_result e = run(shell_quote(empty));
  CHECK(e.exit_code == 2);
  CHECK(has(e, "no Kubernetes objects in the input"));
  const std::string mixed = dir.add("d.json", "{}");
  CHECK(run(shell_quote(fixture_path("pod-create-kubectl-run.json")) + " " + shell_quote(no_kind)).exit_code ==
        2);
}

TEST_CASE("review: a deeply nested manifest exits 2 with the line, not a crash") {
  manifest_dir dir;
  std::string dashes;
  for (int i = 0; i < 3000; ++i) dashes += "- ";
  const std::string deep =
      dir.add("deep.yaml", std::string(training_pod) + "---\nitems:\n" + dashes + "x\n");
  const run_result r = run(shell_quote(deep));
  CHECK(r.exit_code == 2);
  CHECK(has(r, deep + ": YAML nests deeper than 256 levels at line"));
}

TEST_CASE("review: a Namespace in the input sets the enforcement override of its objects") {
  manifest_dir dir;
  // The pod comes first in the file; the Namespace is still reviewed first, as Helm applies it.
  const std::string file =
      dir.add("app.yaml", std::string(host_network_pod) +
                              "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: training\n"
                              "  labels: {mlnetpol.io/enforcement: audit}\n");
  const run_result r = run(shell_quote(file));
  CAPTURE(r.output);
  // The review's user is no administrator, so the Namespace itself is refused (only
  // service_account and admin_groups may set mlnetpol.io labels); its label still sets the mode of
  // the objects in it, as in a cluster where an administrator applied it.
  CHECK(r.exit_code == 1);
  CHECK(has(r,
            "Namespace training: denied: namespace \"training\": mlnetpol-review may not change "
            "label mlnetpol.io/enforcement (added: audit)"));
  CHECK(has(r, "Pod training/miner: allowed\n"));
  CHECK(has(r, "  warning: would deny: pod \"miner\": hostNetwork is not allowed"));
  CHECK(r.output.find("Pod training/miner") < r.output.find("Namespace training"));
  // Without the Namespace the global mode (enforce) denies it.
  CHECK(run(shell_quote(dir.add("pod.yaml", host_network_pod))).exit_code == 1);
}

TEST_CASE("review: NetworkPolicies and CiliumNetworkPolicies are judged by the guardrails") {
  manifest_dir dir;
  // mlops is secured by the defaults (an ML namespace).
  const std::string file = dir.add(
      "policies.yaml",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, "
      "namespace: mlops}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"
      "  ingress: [{}]\n  egress: [{}]\n---\n"
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: orders-db\n"
      "  namespace: mlops\n  annotations: {mlnetpol.io/exception-reason: \"orders database\"}\n"
      "spec:\n  podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 10.0.12.0/24}}]}]\n---\n"
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: undocumented, "
      "namespace: mlops}\nspec:\n  podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: "
      "10.0.12.0/24}}]}]\n---\n"
      "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: world, namespace: "
      "mlops}\nspec:\n  endpointSelector: {}\n  egress: [{toEntities: [world, cluster]}]\n---\n"
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: elsewhere, "
      "namespace: team-x}\nspec:\n  podSelector: {}\n  egress: [{}]\n---\n"
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n"
      "  namespace: mlops\n  labels: {app.kubernetes.io/managed-by: mlnetpol}\n"
      "spec: {podSelector: {}}\n");
  const run_result r = run(shell_quote(file));
  CAPTURE(r.output);
  CHECK(r.exit_code == 1);
  CHECK(has(r,
            "NetworkPolicy mlops/allow-all: denied: NetworkPolicy \"allow-all\" allows egress to "
            "every address: spec.egress[0] (no `to`: every destination)"));
  CHECK(has(r, "allows ingress from every namespace or address: spec.ingress[0]"));
  CHECK(has(r, "NetworkPolicy mlops/orders-db: allowed\n"));
  CHECK(has(r,
            "NetworkPolicy mlops/undocumented: denied: NetworkPolicy \"undocumented\" allows "
            "egress beyond its namespace (spec.egress[0].to[0].ipBlock 10.0.12.0/24) without "
            "annotation mlnetpol.io/exception-reason"));
  CHECK(has(r,
            "CiliumNetworkPolicy mlops/world: denied: CiliumNetworkPolicy \"world\" allows egress "
            "to every address: spec.egress[0].toEntities[0] world"));
  CHECK(has(r, "NetworkPolicy team-x/elsewhere: allowed\n"));  // not a secured namespace
  CHECK(has(r, "NetworkPolicy mlops/default-deny: not reviewed: managed by mlnetpol"));
  CHECK(has(r, "6 objects: 2 allowed, 0 would be patched, 3 denied, 1 not reviewed"));

  // warn: admitted with warnings, exit 0.
  const temp_config warn("tenant_policy_guardrails: warn\n");
  const run_result w = run("--config " + shell_quote(warn.path.string()) + " " + shell_quote(file));
  CAPTURE(w.output);
  CHECK(w.exit_code == 0);
  CHECK(has(w, "NetworkPolicy mlops/allow-all: allowed\n"));
  CHECK(has(w, "  warning: NetworkPolicy \"allow-all\": egress to every address"));
}
