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

namespace {

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

run_result run(const std::string& args, const std::string& stdin_file = "") {
  std::string command = quote(MLNETPOL_BINARY) + " review " + args;
  if (!stdin_file.empty()) command += " < " + quote(stdin_file);
  command += " 2>&1";
  run_result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    r.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string example(const std::string& name) {
  return quote(std::string(MLNETPOL_SOURCE_DIR) + "/examples/" + name);
}
std::string fixture_path(const std::string& name) {
  return std::string(MLNETPOL_SHARED_DIR) + "/fixtures/admission/" + name;
}

struct temp_config {
  explicit temp_config(const std::string& text) {
    path = std::filesystem::temp_directory_path() /
           ("mlnetpol-review-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) +
            ".yaml");
    std::ofstream(path) << text;
  }
  ~temp_config() { std::filesystem::remove(path); }
  std::filesystem::path path;
  static inline int n = 0;
};

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
  const std::string config = "--config " + quote(cfg.path.string()) + " ";
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
    const run_result result = run(config + quote(fixture_path(r.file)));
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
      {"/nonexistent/review.json", 2, "/nonexistent/review.json: cannot open"},
      {quote(not_json.path.string()), 2, "mlnetpol review: " + not_json.path.string() + ": "},
      {"--mode block " + example("pod-create-training-namespace.json"), 2,
       "--mode: \"block\" is not enforce, warn or audit"},
      {"--config " + quote(bad_config.path.string()) + " " +
           example("pod-create-training-namespace.json"),
       2,
       bad_config.path.string() +
           ": enforcment_mode: unknown key; did you mean \"enforcement_mode\"?"},
      {"--bogus x", 2, "unknown flag --bogus"},
      {"a.json b.json", 2, "one input file only"},
      {"--help", 0, "exit status: 0 allowed by both webhooks, 1 denied by either, 2 bad input"},
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
