// The seed's three troubleshooting stories end to end: mlnetpol's set (standard mode) applied to
// the real kube-apiserver, pods created, then `mlnetpol explain --kubeconfig` names the reason and
// the fix from what it reads live.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace {

namespace t = mlnetpol::testing;
using mlnetpol::testing::e2e::binary;
using mlnetpol::testing::e2e::write_text;

const char* config_yaml = R"(cilium_mode: false
ml_training_namespaces: [training]
ml_inference_namespaces: [inference]
platform_namespaces: []
inference_allowed_services: []
)";

const char* objects_yaml = R"(apiVersion: v1
kind: Pod
metadata: {name: trainer-0, namespace: training, labels: {workload-type: training}}
spec: {containers: [{name: main, image: x, ports: [{name: nccl, containerPort: 29500}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: trainer-1, namespace: training, labels: {workload-type: training}}
spec: {containers: [{name: main, image: x, ports: [{name: nccl, containerPort: 29500}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: untagged, namespace: training}
spec: {containers: [{name: main, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: inference, labels: {workload-type: inference, app: api}}
spec: {containers: [{name: main, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: postgres-0, namespace: database, labels: {app.kubernetes.io/name: postgres}}
spec: {containers: [{name: db, image: x, ports: [{name: pg, containerPort: 5432}]}]}
)";

}  // namespace

TEST_CASE("e2e: explain --kubeconfig names the reason and the fix for the seed's three stories") {
  const auto script = t::kapi_script();
  if (!script) {
    std::puts("explain e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  t::kapi_server kapi(*script);
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("mlnetpol-explain-e2e-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string config = dir + "/explain-config.yaml";
  const std::string objects = dir + "/explain-objects.yaml";
  write_text(config, config_yaml);
  write_text(objects, objects_yaml);
  // The namespaces as mlnetpol's namespace webhook labels them, then its set and the pods.
  for (const char* ns : {"training", "inference"}) {
    REQUIRE(kapi.kubectl(std::string("create namespace ") + ns).status == 0);
    const std::string type = ns == std::string("training") ? "training" : "inference";
    REQUIRE(kapi.kubectl(std::string("label namespace ") + ns +
                         " mlnetpol.io/secured=true mlnetpol.io/" + type +
                         "=true workload-type=" + type)
                .status == 0);
  }
  // No controller-manager: every namespace needs its default ServiceAccount made by hand.
  REQUIRE(kapi.kubectl("create namespace database").status == 0);
  for (const char* ns : {"training", "inference", "database"})
    REQUIRE(kapi.kubectl(std::string("-n ") + ns + " create serviceaccount default").status == 0);
  REQUIRE(kapi.kubectl("apply -f " + t::shell_quote(objects) + " >/dev/null").status == 0);
  const auto applied = t::run_command(
      binary + " render --config " + t::shell_quote(config) + " 2>/dev/null" +
      " | KUBECONFIG=" + t::shell_quote(kapi.kubeconfig()) + " kubectl apply -f - >/dev/null 2>&1");
  REQUIRE(applied.status == 0);
  const auto explain = [&](const std::string& args) {
    return t::run_command(binary + " explain --kubeconfig " + t::shell_quote(kapi.kubeconfig()) +
                          " " + args + " 2>&1");
  };

  // pods can't reach S3: the pod lacks workload-type=training
  // (one API server for the three stories: they only read)
  {
    const auto r = explain("--from training/untagged --to 52.216.1.10 --port 443");
    CHECK(r.status == 1);
    CHECK_MESSAGE(r.out.find("egress of training/untagged: isolated, denied") != std::string::npos,
                  r.out);
    CHECK_MESSAGE(
        r.out.find("needs workload-type=training (no label workload-type)") != std::string::npos,
        r.out);
    const auto ok = explain("--from training/trainer-0 --to 52.216.1.10 --port 443");
    CHECK_MESSAGE(ok.status == 0, ok.out);
  }
  // distributed training blocked: pod to pod in training, and the unlabelled peer
  {
    const auto ok = explain("--from training/trainer-0 --to training/trainer-1 --port 29500");
    CHECK_MESSAGE(ok.status == 0, ok.out);
    const auto r = explain("--from training/trainer-0 --to training/untagged --port 29500");
    CHECK(r.status == 1);
    CHECK_MESSAGE(
        r.out.find(
            "does not select training/untagged: training/untagged needs workload-type=training") !=
            std::string::npos,
        r.out);
  }
  // inference can't reach the database: the fix is inference_allowed_services
  {
    const auto r = explain("--config " + t::shell_quote(config) +
                           " --from inference/api-0 --to database/postgres-0 --port 5432");
    CHECK(r.status == 1);
    CHECK_MESSAGE(r.out.find("egress of inference/api-0: isolated, denied") != std::string::npos,
                  r.out);
    CHECK_MESSAGE(r.out.find("add the Service database/postgres to inference_allowed_services") !=
                      std::string::npos,
                  r.out);
    // JSON says the same; the live set holds mlnetpol's policies (of every owner).
    const auto j = explain("--from inference/api-0 --to database/postgres-0 --port 5432 -o json");
    CHECK(j.status == 1);
    CHECK(j.out.find("\"name\":\"default-deny-egress\"") != std::string::npos);
  }
}
