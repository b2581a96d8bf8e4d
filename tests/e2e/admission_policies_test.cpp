// The label rules as ValidatingAdmissionPolicies (issue 24) on the real kube-apiserver v1.28.7
// (kapi): the leader keeps them (labelled, repaired, pruned) with its own RBAC and token, and with
// every replica stopped the API server still refuses what the webhook would: a wrong or missing
// workload-type, hostNetwork, a Deployment template without the label, a TrainJob's spec.labels
// naming a value its namespace does not allow, in a namespace created
// during the outage too, and (issue 23's outage half) a pod of a namespace whose policy set is
// not recorded as in place unless it carries mlnetpol's scheduling gate. An API server without the
// feature: one log line, /status says so. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"
#include "tests/support/trainjob.hpp"

using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::shell_quote;
using namespace mlnetpol::testing::e2e;
using json = nlohmann::json;

namespace {

const std::vector<std::string> vap_flags{
    "--feature-gates=ValidatingAdmissionPolicy=true",
    "--runtime-config=admissionregistration.k8s.io/v1beta1=true"};

// 200 more training namespaces: the bindings list them all (CEL cost does not grow with them).
std::string config_yaml(bool with_serving) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += ", bulk-" + std::to_string(i);
  return "platform_namespaces: []\n"
         "tenant_namespaces: [team-a]\n"
         "ml_training_namespaces: [train, mlops" +
         many + "]\nml_inference_namespaces: [mlops" + (with_serving ? ", serve" : "") +
         "]\nenforcement_mode: enforce\ncilium_mode: false\n";
}

// `kubectl get KIND -l managed-by -o name` as a sorted list of names.
std::vector<std::string> managed_names(cluster_fixture& c, const std::string& kind) {
  const auto r = c.kapi.kubectl("get " + kind + " -l " + managed + " -o name 2>/dev/null");
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(r.out);
  while (std::getline(in, line)) {
    if (auto slash = line.find('/'); slash != std::string::npos)
      out.push_back(line.substr(slash + 1));
  }
  std::sort(out.begin(), out.end());
  return out;
}

json status_of(const replica& r) {
  const auto s = json::parse(r.get("/status"), nullptr, false);
  return s.is_object() && s.contains("admission_policies") ? s["admission_policies"]
                                                           : json::object();
}

// kubectl apply of a manifest; returns exit status and output (stderr too: warnings, denials).
// dry_run: a server-side dry run (admission runs, nothing is stored), so it can be repeated.
mlnetpol::testing::command_result apply(cluster_fixture& c, const std::string& name,
                                        const std::string& manifest, bool dry_run = false) {
  const std::string file = c.dir + "/" + name + ".yaml";
  write_text(file, manifest);
  return c.kubectl("apply -f " + shell_quote(file) + (dry_run ? " --dry-run=server" : ""));
}

std::string pod(const std::string& ns, const std::string& name, const std::string& labels,
                const std::string& spec_extra = "") {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  labels: {" + labels + "}\nspec:\n" + spec_extra +
         "  containers: [{name: c, image: registry.example/x:1}]\n";
}

// Kubeflow Trainer's TrainJob CRD (reduced, tests/e2e/crds/), established before it returns.
void install_trainjob_crd(const kapi_server& kapi) {
  auto r = kapi.kubectl(
      "apply -f " + shell_quote(source + "/tests/e2e/crds/trainjobs.trainer.kubeflow.org.yaml") +
      " 2>&1");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  r = kapi.kubectl(
      "wait --for condition=established --timeout=30s crd/trainjobs.trainer.kubeflow.org 2>&1");
  REQUIRE_MESSAGE(r.status == 0, r.out);
}

// A TrainJob whose spec.labels are labels ("k: v, ...").
std::string trainjob(const std::string& ns, const std::string& name, const std::string& labels) {
  return mlnetpol::testing::trainjob_yaml(ns, name, "  labels: {" + labels + "}\n");
}

void make_namespace(cluster_fixture& c, const std::string& ns) {
  REQUIRE(c.kubectl("create namespace " + ns).status == 0);
  // No controller-manager: pods need the default ServiceAccount created by hand.
  REQUIRE(c.kubectl("-n " + ns + " create serviceaccount default").status == 0);
}

}  // namespace

TEST_CASE("admission policies: kept by the leader and enforced while every replica is down") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    MESSAGE("skipped: MLNETPOL_KAPI is not set (path to the kapi script)");
    return;
  }
  kapi_server kapi(*script, vap_flags);
  cluster_fixture c(kapi);
  c.set_config(config_yaml(true));
  make_namespace(c, "team-a");
  replica a("a", c.dir, c.sa_kubeconfig, c.config, c.certs, {"--resync-period", "2s"});
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }, 30s), a.log());
  c.register_webhooks(a.port());
  // The standard overlay: the workload webhooks fail open, the policies back them.
  for (const char* kind : {"mutatingwebhookconfiguration", "validatingwebhookconfiguration"}) {
    const auto r = c.kubectl(std::string("patch ") + kind +
                             " mlnetpol --type=json -p "
                             "'[{\"op\":\"replace\",\"path\":\"/webhooks/1/failurePolicy\","
                             "\"value\":\"Ignore\"}]'");
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }

  const std::vector<std::string> policies{
      "mlnetpol-host-network", "mlnetpol-policy-set", "mlnetpol-workload-type-inference",
      "mlnetpol-workload-type-training", "mlnetpol-workload-type-training-inference"};
  std::vector<std::string> bindings;
  for (const auto& p : policies)
    for (const char* m : {"-audit", "-enforce", "-warn"}) bindings.push_back(p + m);
  std::sort(bindings.begin(), bindings.end());

  {
    // Present and labelled (listed by the managed-by label), with 201 names in a selector.
    REQUIRE_MESSAGE(eventually([&] {
                      return managed_names(c, "validatingadmissionpolicies") == policies &&
                             managed_names(c, "validatingadmissionpolicybindings") == bindings;
                    }),
                    a.log());
    const json s = status_of(a);
    CHECK(s["state"] == "served");
    CHECK(s["api_version"] == "admissionregistration.k8s.io/v1beta1");
    const auto training = json::parse(
        c.kubectl("get validatingadmissionpolicybinding mlnetpol-workload-type-training-enforce "
                  "-o json")
            .out);
    CHECK(training["spec"]["validationActions"] == json::array({"Deny"}));
    CHECK(training["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"]
              .size() == 201);  // train and bulk-0..199
    for (const auto& [mode, action] :
         std::vector<std::pair<std::string, std::string>>{{"warn", "Warn"}, {"audit", "Audit"}}) {
      const auto b =
          json::parse(c.kubectl("get validatingadmissionpolicybinding mlnetpol-host-network-" +
                                mode + " -o json")
                          .out);
      CHECK(b["spec"]["validationActions"] == json::array({action}));
    }

    // Repaired after an edit (the next pass: --resync-period 2s).
    auto r = c.kubectl(
        "patch validatingadmissionpolicybinding mlnetpol-host-network-enforce --type=merge -p "
        "'{\"spec\":{\"validationActions\":[\"Audit\"]}}'");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK_MESSAGE(eventually([&] {
                    const auto b = json::parse(c.kubectl("get validatingadmissionpolicybinding "
                                                         "mlnetpol-host-network-enforce -o json")
                                                   .out,
                                               nullptr, false);
                    return b.is_object() && b["spec"]["validationActions"] == json::array({"Deny"});
                  }),
                  a.log());
    // And recreated after a delete.
    r = c.kubectl("delete validatingadmissionpolicy mlnetpol-workload-type-training");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(eventually([&] { return managed_names(c, "validatingadmissionpolicies") == policies; }));

    // Pruned when the only inference-only namespace leaves the lists.
    c.set_config(config_yaml(false));
    a.reload();
    CHECK_MESSAGE(eventually([&] {
                    const auto names = managed_names(c, "validatingadmissionpolicies");
                    return std::find(names.begin(), names.end(),
                                     "mlnetpol-workload-type-inference") == names.end() &&
                           names.size() == 4 &&
                           managed_names(c, "validatingadmissionpolicybindings").size() == 12;
                  }),
                  a.log());
  }

  // team-a's set is recorded as in place by the reconciler (issue 23) before the outage.
  REQUIRE_MESSAGE(eventually([&] {
                    return !c.kubectl("get namespace team-a -o jsonpath="
                                      "'{.metadata.annotations.mlnetpol\\.io/policy-set}'")
                                .out.empty();
                  }),
                  a.log());

  // Every replica stopped; the webhooks stay registered (and fail).
  a.stop();
  make_namespace(c, "train");  // created during the outage: no mlnetpol label on it
  make_namespace(c, "elsewhere");
  {
    // No set in place and nobody to gate the pod: refused, however well labelled (issue 23).
    auto r = apply(c, "early", pod("train", "early", "workload-type: training"));
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("network policies are not in place yet") != std::string::npos, r.out);
    // A pod carrying mlnetpol's scheduling gate waits for the set instead: admitted.
    r = apply(c, "gated",
              pod("train", "gated", "workload-type: training",
                  "  schedulingGates: [{name: mlnetpol.io/policy-set}]\n"));
    CHECK_MESSAGE(r.status == 0, r.out);
    // The set in place (as the leader records it): the label rules alone decide.
    r = c.kubectl("annotate namespace train mlnetpol.io/policy-set=recorded");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(eventually([&] {
      return apply(c, "ok", pod("train", "ok", "workload-type: training"), true).status == 0;
    }));
    r = apply(c, "ok", pod("train", "ok", "workload-type: training"));
    CHECK_MESSAGE(r.status == 0, r.out);
    r = apply(c, "wrong", pod("train", "wrong", "workload-type: inference"));
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("has label workload-type=inference, which is not allowed here; "
                             "allowed values: training") != std::string::npos,
                  r.out);
    // What CEL cannot do (docs: "What the policies cannot do"): the webhook would infer
    // workload-type=training here (the namespace's only role) and admit the pod; the policy
    // refuses.
    r = apply(c, "none", pod("train", "none", "app: x"));
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("has no label workload-type") != std::string::npos, r.out);
    r = apply(c, "host", pod("train", "host", "workload-type: training", "  hostNetwork: true\n"));
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("sets spec.hostNetwork: true") != std::string::npos, r.out);
    // A tenant namespace labelled while mlnetpol ran: its workload webhooks fail open now.
    r = apply(c, "tenant-host", pod("team-a", "tenant-host", "app: x", "  hostNetwork: true\n"));
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("hostNetwork") != std::string::npos, r.out);
    r = apply(c, "tenant-ok", pod("team-a", "tenant-ok", "app: x"));
    CHECK_MESSAGE(r.status == 0, r.out);
    // A Deployment whose template lacks the label.
    r = apply(c, "deploy",
              "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: train}\n"
              "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n"
              "    metadata: {labels: {app: web}}\n"
              "    spec: {containers: [{name: c, image: registry.example/x:1}]}\n");
    CHECK(r.status != 0);
    CHECK_MESSAGE(
        r.out.find("spec.template.metadata.labels.workload-type: training") != std::string::npos,
        r.out);
    // A namespace outside the lists is unaffected.
    r = apply(c, "free", pod("elsewhere", "free", "app: x", "  hostNetwork: true\n"));
    CHECK_MESSAGE(r.status == 0, r.out);

    // The per-namespace override: warn admits with a warning, audit without one.
    r = c.kubectl("label namespace train mlnetpol.io/enforcement=warn");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(eventually([&] {
      const auto w = apply(c, "warned", pod("train", "warned", "workload-type: inference"), true);
      return w.status == 0 && w.out.find("Warning:") != std::string::npos &&
             w.out.find("workload-type") != std::string::npos;
    }));
    r = c.kubectl("label namespace train mlnetpol.io/enforcement=audit --overwrite");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    std::string last;
    CHECK_MESSAGE(eventually([&] {
                    const auto w =
                        apply(c, "audited", pod("train", "audited", "app: audited"), true);
                    last = w.out;
                    return w.status == 0 && w.out.find("Warning:") == std::string::npos;
                  }),
                  last);
    // An invalid value keeps the configured mode (enforce), as the webhook does.
    r = c.kubectl("label namespace train mlnetpol.io/enforcement=off --overwrite");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(eventually([&] {
      return apply(c, "refused", pod("train", "refused", "app: refused"), true).status != 0;
    }));
  }

  // A Kubeflow job's replica templates (a schemaless CRD stands in for the training operator's).
  {
    auto r = apply(c, "crd", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pytorchjobs.kubeflow.org}
spec:
  group: kubeflow.org
  names: {kind: PyTorchJob, plural: pytorchjobs, singular: pytorchjob}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
)");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    const auto job = [](const std::string& name, const std::string& worker_labels) {
      return "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: " + name +
             ", namespace: mlops}\nspec:\n  pytorchReplicaSpecs:\n    Master:\n      template:\n"
             "        metadata: {labels: {workload-type: training}}\n"
             "        spec: {containers: [{name: c, image: x}]}\n    Worker:\n      template:\n"
             "        metadata: {labels: {" +
             worker_labels + "}}\n        spec: {containers: [{name: c, image: x}]}\n";
    };
    make_namespace(c, "mlops");
    r = c.kubectl("annotate namespace mlops mlnetpol.io/policy-set=recorded");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(eventually([&] {
      const auto bad = apply(c, "job-bad", job("bad", "app: w"), true);
      return bad.status != 0 &&
             bad.out.find("spec.pytorchReplicaSpecs.*.template.metadata.labels.workload-type") !=
                 std::string::npos;
    }));
    r = apply(c, "job-ok", job("ok", "workload-type: inference"));
    CHECK_MESSAGE(r.status == 0, r.out);  // mlops allows both values
  }

  // A TrainJob: its spec.labels are judged (train allows training only).
  {
    install_trainjob_crd(c.kapi);
    std::string last;
    CHECK_MESSAGE(
        eventually([&] {
          const auto bad =
              apply(c, "trainjob-bad", trainjob("train", "bad", "workload-type: inference"), true);
          last = bad.out;
          return bad.status != 0 && bad.out.find(
                                        "TrainJob \"bad\" (spec.labels) in namespace \"train\" "
                                        "has label workload-type=inference, which is not allowed "
                                        "here; allowed values: training. Fix: set "
                                        "spec.labels.workload-type: training") != std::string::npos;
        }),
        last);
    auto r = apply(c, "trainjob-none", trainjob("train", "none", "team: nlp"));
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("has no label workload-type") != std::string::npos, r.out);
    r = apply(c, "trainjob-ok", trainjob("train", "ok", "workload-type: training"));
    CHECK_MESSAGE(r.status == 0, r.out);
  }
}

TEST_CASE("admission policies: an API server without them falls back to the webhooks") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    MESSAGE("skipped: MLNETPOL_KAPI is not set (path to the kapi script)");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  c.set_config(config_yaml(true));
  replica a("a", c.dir, c.sa_kubeconfig, c.config, c.certs, {"--resync-period", "1s"});
  REQUIRE_MESSAGE(eventually([&] { return status_of(a).value("state", "") == "unavailable"; }, 30s),
                  a.log());
  CHECK(status_of(a)["message"].get<std::string>().find("webhooks are the only enforcement") !=
        std::string::npos);
  // Several passes later: still one line, no retry loop, nothing written.
  const auto passes = [&] {
    const std::string log = a.log();
    std::size_t n = 0;
    for (auto at = log.find("full sync"); at != std::string::npos;
         at = log.find("full sync", at + 1))
      ++n;
    return n;
  };
  const std::size_t before = passes();
  CHECK(eventually([&] { return passes() >= before + 3; }, 20s));
  const std::string log = a.log();
  std::size_t lines = 0;
  for (auto at = log.find("admission policies unavailable"); at != std::string::npos;
       at = log.find("admission policies unavailable", at + 1))
    ++lines;
  CHECK_MESSAGE(lines == 1, log);
  CHECK(log.find("admission policies not in place") == std::string::npos);
}

namespace {

// A captured AdmissionReview's object, made creatable: no server-set metadata, no status, a name.
json creatable(json o, const std::string& name, const std::string& ns) {
  for (const char* k : {"uid", "resourceVersion", "creationTimestamp", "managedFields",
                        "generation", "generateName"})
    o["metadata"].erase(k);
  if (o["metadata"].contains("labels") && o["metadata"]["labels"].is_null())
    o["metadata"].erase("labels");
  o.erase("status");
  o["metadata"]["name"] = name;
  o["metadata"]["namespace"] = ns;
  if (o["kind"] == "Job") {  // the selector and its labels are the Job controller's to generate
    o["spec"].erase("selector");
    auto& labels = o["spec"]["template"]["metadata"]["labels"];
    if (labels.is_object()) {
      for (const char* k : {"controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
                            "batch.kubernetes.io/job-name"})
        labels.erase(k);
    }
  }
  return o;
}

json synthetic_pod(const std::string& name, const std::string& ns, const std::string& label,
                   bool host_network) {
  json o = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "eq"}}}}},
            {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "x"}}})}}}};
  if (!label.empty()) o["metadata"]["labels"]["workload-type"] = label;
  if (host_network) o["spec"]["hostNetwork"] = true;
  return o;
}

json synthetic_workload(const std::string& kind, const std::string& name, const std::string& ns,
                        const std::string& label) {
  json tmpl = {{"metadata", {{"labels", {{"app", name}}}}},
               {"spec",
                {{"restartPolicy", kind == "Deployment" ? "Always" : "Never"},
                 {"containers", json::array({{{"name", "c"}, {"image", "x"}}})}}}};
  if (!label.empty()) tmpl["metadata"]["labels"]["workload-type"] = label;
  json o = {{"metadata", {{"name", name}, {"namespace", ns}}}, {"kind", kind}};
  if (kind == "Deployment") {
    o["apiVersion"] = "apps/v1";
    o["spec"] = {{"selector", {{"matchLabels", {{"app", name}}}}}, {"template", tmpl}};
  } else {
    o["apiVersion"] = "batch/v1";
    o["spec"] = {{"schedule", "* * * * *"}, {"jobTemplate", {{"spec", {{"template", tmpl}}}}}};
  }
  return o;
}

}  // namespace

// Issue 24 item 5: every case through the webhook's engine (`mlnetpol review`: /mutate, the patch,
// /validate) and through the API server's policies alone (webhooks not registered, server-side dry
// run of the object as the patch left it): the decisions are equal.
TEST_CASE("admission policies: the same decisions as the webhook") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    MESSAGE("skipped: MLNETPOL_KAPI is not set (path to the kapi script)");
    return;
  }
  kapi_server kapi(*script, vap_flags);
  const auto kubectl = [&](const std::string& args) { return kapi.kubectl(args + " 2>&1"); };
  const std::string dir = kapi.dir();
  write_text(dir + "/config.yaml",
             "platform_namespaces: []\ntenant_namespaces: [team-a]\n"
             "ml_training_namespaces: [train, mlops]\nml_inference_namespaces: [serve, mlops]\n"
             "enforcement_mode: enforce\n");
  const std::vector<std::string> namespaces{"train", "serve", "mlops", "team-a", "elsewhere"};
  for (const auto& ns : namespaces) {
    REQUIRE(kubectl("create namespace " + ns).status == 0);
    REQUIRE(kubectl("-n " + ns + " create serviceaccount default").status == 0);
    // The set in place: only the label rules decide here.
    REQUIRE(kubectl("annotate namespace " + ns + " mlnetpol.io/policy-set=recorded").status == 0);
  }
  install_trainjob_crd(kapi);
  // Unlabelled Deployments that predate the policies, for the UPDATE cases below.
  for (const char* ns : {"train", "mlops"}) {
    write_text(dir + "/old.json", synthetic_workload("Deployment", "old", ns, "").dump());
    REQUIRE(kubectl("create -f " + shell_quote(dir + "/old.json")).status == 0);
  }
  const auto rendered = mlnetpol::testing::run_command(
      shell_quote(binary) + " render --config " + shell_quote(dir + "/config.yaml") +
      " --admission-policies v1beta1 > " + shell_quote(dir + "/vap.yaml"));
  REQUIRE(rendered.status == 0);
  const auto applied = kubectl("apply -f " + shell_quote(dir + "/vap.yaml"));
  REQUIRE_MESSAGE(applied.status == 0, applied.out);

  json items = json::array();
  int n = 0;
  const auto next = [&] { return "eq-" + std::to_string(n++); };
  for (const auto& ns : namespaces) {
    for (const char* fixture :
         {"pod-create-kubectl-run", "pod-create-generatename", "pod-create-no-labels",
          "pod-create-workload-type-training", "pod-create-label-key-with-slash",
          "deployment-create", "job-create"}) {
      const auto review = json::parse(
          read_text(source + "/tests/fixtures/admission/" + std::string(fixture) + ".json"));
      items.push_back(creatable(review["request"]["object"], next(), ns));
    }
    for (const char* label : {"", "training", "inference", "gpu"}) {
      for (const bool host : {false, true}) items.push_back(synthetic_pod(next(), ns, label, host));
    }
    for (const char* label : {"", "training", "inference"}) {
      items.push_back(synthetic_workload("Deployment", next(), ns, label));
      items.push_back(synthetic_workload("CronJob", next(), ns, label));
    }
    // TrainJobs: spec.labels with no label (inferred from the kind where the namespace agrees),
    // each value, and none at all (the map created by the patch).
    for (const char* label :
         std::initializer_list<const char*>{"", "training", "inference", "gpu", nullptr}) {
      json spec = {{"runtimeRef", {{"name", "torch-distributed"}}}};
      if (label != nullptr) spec["labels"] = {{"team", "nlp"}};
      if (label != nullptr && *label != '\0') spec["labels"]["workload-type"] = label;
      items.push_back({{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
                       {"kind", "TrainJob"},
                       {"metadata", {{"name", next()}, {"namespace", ns}}},
                       {"spec", spec}});
    }
    // Signals that disagree (an inference owner in a training namespace): no label is inferred.
    json owned = synthetic_pod(next(), ns, "", false);
    owned["metadata"]["ownerReferences"] =
        json::array({{{"apiVersion", "serving.kserve.io/v1beta1"},
                      {"kind", "InferenceService"},
                      {"name", "isvc"},
                      {"uid", "00000000-0000-0000-0000-000000000001"},
                      {"controller", true}}});
    items.push_back(owned);
  }
  write_text(dir + "/corpus.json",
             json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump());
  const auto reviewed = mlnetpol::testing::run_command(
      shell_quote(binary) + " review --config " + shell_quote(dir + "/config.yaml") + " -o json " +
      shell_quote(dir + "/corpus.json"));
  const auto results = json::parse(reviewed.out, nullptr, false);
  REQUIRE_MESSAGE(results.is_object(), reviewed.out);
  REQUIRE(results["results"].size() == items.size());

  // What mutation leaves: the webhook's JSON Patch applied.
  json mutated = json::array();
  std::map<std::string, bool> webhook_allows;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& r = results["results"][i];
    const std::string name = items[i]["metadata"]["name"];
    webhook_allows[name] = r["result"] != "denied";
    mutated.push_back(r["patch"].is_array() ? items[i].patch(r["patch"]) : items[i]);
  }
  write_text(dir + "/mutated.json",
             json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", mutated}}.dump());
  // The policies are picked up by the API server shortly after they are created.
  REQUIRE(eventually([&] {
    write_text(dir + "/probe.json", synthetic_pod("probe", "train", "inference", false).dump());
    return kubectl("create --dry-run=server -f " + shell_quote(dir + "/probe.json")).status != 0;
  }));
  const auto created =
      kubectl("create --dry-run=server -o name -f " + shell_quote(dir + "/mutated.json"));
  std::string differences;
  std::size_t denied = 0;
  for (const auto& [name, allows] : webhook_allows) {
    // -o name prints "<kind>/<name>" for each object the API server admitted.
    const bool api_allows = created.out.find("/" + name + "\n") != std::string::npos;
    denied += allows ? 0 : 1;
    if (api_allows != allows)
      differences += name + ": webhook " + (allows ? "allows" : "denies") + ", policies " +
                     (api_allows ? "allow" : "deny") + "\n";
  }
  CHECK_MESSAGE(differences.empty(), differences << "\nkubectl:\n" << created.out);
  MESSAGE(webhook_allows.size() << " cases, " << denied << " denied by both");
  CHECK(denied > 20);  // the corpus exercises refusals, not only admissions

  // UPDATEs of those Deployments (policy/template_fields.hpp): only a change of the template's
  // labels, annotations or hostNetwork writes it. The webhook's decision (`mlnetpol review` of the
  // AdmissionReview) and the policies' (a server-side dry-run replace) are equal.
  const auto review_base =
      json::parse(read_text(source + "/tests/fixtures/admission/deployment-create.json"));
  const auto update = [&](const std::string& ns, const std::string& what, bool expect_allowed,
                          const std::function<void(json&)>& change) {
    CAPTURE(ns);
    CAPTURE(what);
    const auto got = kubectl("get deployment old -n " + ns + " -o json");
    REQUIRE(got.status == 0);
    const json old = json::parse(got.out);
    json now = old;
    change(now["spec"]["template"]);
    json review = review_base;
    auto& request = review["request"];
    request["operation"] = "UPDATE";
    request["name"] = "old";
    request["namespace"] = ns;
    request["userInfo"] = {{"username", "tenant"}, {"groups", {"system:authenticated"}}};
    request["object"] = now;
    request["oldObject"] = old;
    write_text(dir + "/update-review.json", review.dump());
    const auto webhook = mlnetpol::testing::run_command(shell_quote(binary) + " review --config " +
                                                        shell_quote(dir + "/config.yaml") + " " +
                                                        shell_quote(dir + "/update-review.json"));
    REQUIRE_MESSAGE(webhook.status <= 1, webhook.out);
    write_text(dir + "/update.json", now.dump());
    const auto api = kubectl("replace --dry-run=server -f " + shell_quote(dir + "/update.json"));
    CHECK_MESSAGE((webhook.status == 0) == (api.status == 0), webhook.out << "\n" << api.out);
    CHECK_MESSAGE((api.status == 0) == expect_allowed, api.out);
  };
  const auto image = [](json& t) { t["spec"]["containers"][0]["image"] = "y"; };
  update("mlops", "image only", true, image);
  update("train", "image only", true, image);
  update("mlops", "template labels, none inferred", false,
         [](json& t) { t["metadata"]["labels"]["tier"] = "web"; });
  update("train", "template labels: a wrong workload-type", false,
         [](json& t) { t["metadata"]["labels"]["workload-type"] = "inference"; });
}
