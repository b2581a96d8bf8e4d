#include "policy/engine.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json.hpp"
#include "policy/inference.hpp"
#include "policy/kinds.hpp"
#include "policy/labels.hpp"
#include "policy/name_rules.hpp"
#include "policy/text.hpp"
#include "tests/support/files.hpp"

using namespace mlnetpol::policy;
using mlnetpol::json::json_member;
using mlnetpol::json::map_value;

namespace {

// A request the engine sees, owning the JSON its facts point into.
struct test_request {
  rapidjson::Document doc;
  std::string group, kind, operation, namespace_name, name, username, sub_resource;
  std::vector<std::string> groups;
  std::map<std::string, std::string> namespace_labels;
  bool namespace_labels_known = false;
  const rapidjson::Value* object = nullptr;
  const rapidjson::Value* old_object = nullptr;

  request_facts facts() const {
    request_facts f;
    f.group = group;
    f.kind = kind;
    f.operation = operation;
    f.namespace_name = namespace_name;
    f.name = name;
    f.username = username;
    f.sub_resource = sub_resource;
    f.groups = groups;
    f.object = object;
    f.old_object = old_object;
    f.namespace_labels = namespace_labels_known ? &namespace_labels : nullptr;
    return f;
  }
};

std::string str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// An AdmissionReview request from tests/fixtures/admission/.
std::unique_ptr<test_request> fixture(const std::string& file) {
  auto r = std::make_unique<test_request>();
  r->doc.Parse(
      mlnetpol::testing::read_required(std::string(MLNETPOL_FIXTURES_DIR) + "/admission/" + file)
          .c_str());
  REQUIRE_FALSE(r->doc.HasParseError());
  const rapidjson::Value& q = r->doc["request"];
  r->group = str(q["kind"]["group"]);
  r->kind = str(q["kind"]["kind"]);
  r->operation = str(q["operation"]);
  r->namespace_name = q.HasMember("namespace") ? str(q["namespace"]) : "";
  r->name = q.HasMember("name") ? str(q["name"]) : "";
  r->username = str(q["userInfo"]["username"]);
  for (const auto& g : q["userInfo"]["groups"].GetArray()) r->groups.push_back(str(g));
  if (q.HasMember("object") && q["object"].IsObject()) r->object = &q["object"];
  if (q.HasMember("oldObject") && q["oldObject"].IsObject()) r->old_object = &q["oldObject"];
  return r;
}

// A request built in the test: {"object": ..., "oldObject": ...} as JSON text.
std::unique_ptr<test_request> built(std::string group, std::string kind, std::string operation,
                                    std::string ns, const std::string& object_json,
                                    const std::string& old_json = "null") {
  auto r = std::make_unique<test_request>();
  r->doc.Parse(("{\"object\":" + object_json + ",\"oldObject\":" + old_json + "}").c_str());
  REQUIRE_MESSAGE(!r->doc.HasParseError(), object_json);
  r->group = std::move(group);
  r->kind = std::move(kind);
  r->operation = std::move(operation);
  r->namespace_name = std::move(ns);
  r->username = "alice";
  r->groups = {"system:authenticated"};
  if (r->doc["object"].IsObject()) r->object = &r->doc["object"];
  if (r->doc["oldObject"].IsObject()) r->old_object = &r->doc["oldObject"];
  return r;
}

std::string pod_json(
    const std::string& labels_json, const std::string& extra_metadata = "",
    const std::string& spec = "{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}") {
  std::string metadata = "\"name\":\"p\"";
  if (!labels_json.empty()) metadata += ",\"labels\":" + labels_json;
  if (!extra_metadata.empty()) metadata += "," + extra_metadata;
  return "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{" + metadata +
         "},\"spec\":" + spec + "}";
}

std::string owner(const std::string& kind) {
  return "\"ownerReferences\":[{\"apiVersion\":\"x/v1\",\"kind\":\"" + kind +
         "\",\"name\":\"o\",\"uid\":\"1\",\"controller\":true}]";
}

config ml_config() {
  config cfg;
  cfg.ml_training_namespaces = {"kubeflow", "training", "mlops", "ml-training"};
  cfg.ml_inference_namespaces = {"inference", "serving", "mlops"};
  return cfg;
}

// Applies additions the way a JSON Patch would: creates missing maps, sets the key.
void apply(rapidjson::Value& object, std::span<const map_entry> additions,
           rapidjson::Document::AllocatorType& alloc) {
  for (const auto& a : additions) {
    rapidjson::Value* at = &object;
    std::vector<std::string> path(a.metadata_path.begin(), a.metadata_path.end());
    path.push_back(a.map_name);
    for (const auto& step : path) {
      if (!at->HasMember(step.c_str())) {
        at->AddMember(rapidjson::Value(step.c_str(), alloc),
                      rapidjson::Value(rapidjson::kObjectType), alloc);
      }
      at = &(*at)[step.c_str()];
    }
    if (at->HasMember(a.key.c_str())) {
      (*at)[a.key.c_str()].SetString(a.value.c_str(), alloc);
    } else {
      at->AddMember(rapidjson::Value(a.key.c_str(), alloc),
                    rapidjson::Value(a.value.c_str(), alloc), alloc);
    }
  }
}

const map_entry* find_addition(const decision& d, const std::string& map_name,
                               const std::string& key) {
  for (const auto& a : d.additions) {
    if (a.map_name == map_name && a.key == key) return &a;
  }
  return nullptr;
}

bool has_rule(const decision& d, std::string_view rule) {
  for (const auto& v : d.violations) {
    if (v.rule == rule) return true;
  }
  return false;
}

// Mutates, applies the additions, and checks that validation passes and a second pass is a no-op.
// The additions go into the object the facts point at (request.object in fixtures, object in built
// requests), which r.doc owns.
void check_round_trip(test_request& r, const config& cfg) {
  const decision first = mutate(r.facts(), cfg);
  REQUIRE(r.object != nullptr);
  REQUIRE(r.object->IsObject());
  auto& object = const_cast<rapidjson::Value&>(*r.object);
  apply(object, first.additions, r.doc.GetAllocator());
  for (const auto& a : first.additions) {
    // The patched object holds every addition (a check that the apply above reached it).
    const rapidjson::Value* at = r.object;
    for (const auto& step : a.metadata_path) at = json_member(at, step);
    CHECK(map_value(at, a.map_name, a.key) == a.value);
  }
  const decision again = mutate(r.facts(), cfg);
  CHECK(again.additions.empty());
  const decision checked = validate(r.facts(), cfg);
  CHECK_MESSAGE(checked.allowed, checked.message);
  CHECK(checked.violations.empty());
}

}  // namespace

TEST_CASE("mutate infers workload-type on pods from each signal, in order") {
  struct row {
    const char* what;
    std::string ns;
    std::string labels;
    std::string extra_metadata;
    const char* value;   // nullptr: nothing inferred
    const char* source;  // the workload-type-source annotation
  };
  const std::vector<row> rows{
      {"training-only namespace", "training", "", "", "training", "namespace:training"},
      {"inference-only namespace", "serving", "{\"a\":\"b\"}", "", "inference",
       "namespace:serving"},
      {"owner PyTorchJob in mlops", "mlops", "", owner("PyTorchJob"), "training",
       "owner:PyTorchJob"},
      {"owner TFJob", "mlops", "", owner("TFJob"), "training", "owner:TFJob"},
      {"owner MPIJob", "mlops", "", owner("MPIJob"), "training", "owner:MPIJob"},
      {"owner XGBoostJob", "mlops", "", owner("XGBoostJob"), "training", "owner:XGBoostJob"},
      {"owner PaddleJob", "mlops", "", owner("PaddleJob"), "training", "owner:PaddleJob"},
      {"owner JAXJob", "mlops", "", owner("JAXJob"), "training", "owner:JAXJob"},
      {"owner TrainJob", "mlops", "", owner("TrainJob"), "training", "owner:TrainJob"},
      {"owner Job", "mlops", "", owner("Job"), "training", "owner:Job"},
      {"owner InferenceService", "mlops", "", owner("InferenceService"), "inference",
       "owner:InferenceService"},
      {"owner ServingRuntime", "mlops", "", owner("ServingRuntime"), "inference",
       "owner:ServingRuntime"},
      {"label job-name", "mlops", "{\"training.kubeflow.org/job-name\":\"m\"}", "", "training",
       "label:training.kubeflow.org/job-name"},
      {"label replica-type", "mlops", "{\"training.kubeflow.org/replica-type\":\"worker\"}", "",
       "training", "label:training.kubeflow.org/replica-type"},
      {"label kserve", "mlops", "{\"serving.kserve.io/inferenceservice\":\"m\"}", "", "inference",
       "label:serving.kserve.io/inferenceservice"},
      {"label seldon", "mlops", "{\"seldon-deployment-id\":\"m\"}", "", "inference",
       "label:seldon-deployment-id"},
      {"label component=predictor", "mlops", "{\"app.kubernetes.io/component\":\"predictor\"}", "",
       "inference", "label:app.kubernetes.io/component=predictor"},
      {"component other than predictor", "mlops", "{\"app.kubernetes.io/component\":\"x\"}", "",
       nullptr, nullptr},
      {"namespace and owner agree: namespace named", "training", "", owner("PyTorchJob"),
       "training", "namespace:training"},
      {"owner and label agree: owner named", "mlops", "{\"training.kubeflow.org/job-name\":\"m\"}",
       owner("PyTorchJob"), "training", "owner:PyTorchJob"},
      {"conflict namespace vs owner", "training", "", owner("InferenceService"), nullptr, nullptr},
      {"conflict owner vs label", "mlops", "{\"training.kubeflow.org/job-name\":\"m\"}",
       owner("InferenceService"), nullptr, nullptr},
      {"conflict between labels", "mlops",
       "{\"training.kubeflow.org/job-name\":\"m\",\"seldon-deployment-id\":\"s\"}", "", nullptr,
       nullptr},
      {"no signal in a both-roles namespace", "mlops", "{\"app\":\"web\"}", "", nullptr, nullptr},
      {"owner ReplicaSet is no signal", "mlops", "", owner("ReplicaSet"), nullptr, nullptr},
      {"non-controller owner is ignored", "mlops", "",
       "\"ownerReferences\":[{\"kind\":\"PyTorchJob\",\"name\":\"o\",\"uid\":\"1\"}]", nullptr,
       nullptr},
  };
  const config cfg = ml_config();
  for (const auto& r : rows) {
    CAPTURE(r.what);
    auto req = built("", "Pod", "CREATE", r.ns, pod_json(r.labels, r.extra_metadata));
    const decision d = mutate(req->facts(), cfg);
    const map_entry* label = find_addition(d, "labels", "workload-type");
    if (r.value == nullptr) {
      CHECK(label == nullptr);
      CHECK(d.additions.empty());
      CHECK(d.result == outcome::allowed);
      continue;
    }
    REQUIRE(label != nullptr);
    CHECK(label->value == r.value);
    CHECK(label->metadata_path == path_steps{"metadata"});
    const map_entry* source = find_addition(d, "annotations", std::string(source_annotation));
    REQUIRE(source != nullptr);
    CHECK(source->value == r.source);
    CHECK(d.result == outcome::patched);
    CHECK(d.allowed);
    check_round_trip(*req, cfg);
  }
}

TEST_CASE("mutate never overwrites an existing workload-type, valid or not") {
  const config cfg = ml_config();
  for (const char* value : {"training", "inference", "gpu-miner", ""}) {
    CAPTURE(value);
    auto req = built("", "Pod", "CREATE", "training",
                     pod_json(std::string("{\"workload-type\":\"") + value + "\"}"));
    const decision d = mutate(req->facts(), cfg);
    CHECK(d.additions.empty());
    CHECK(d.result == outcome::allowed);
  }
}

TEST_CASE("mutate keeps an existing source annotation") {
  const config cfg = ml_config();
  auto req = built("", "Pod", "CREATE", "training",
                   pod_json("", "\"annotations\":{\"mlnetpol.io/workload-type-source\":\"x\"}"));
  const decision d = mutate(req->facts(), cfg);
  REQUIRE(d.additions.size() == 1);
  CHECK(d.additions[0].map_name == "labels");
}

TEST_CASE("label_key is configurable") {
  config cfg = ml_config();
  cfg.label_key = "example.com/role";
  auto req = built("", "Pod", "CREATE", "training", pod_json(""));
  const decision d = mutate(req->facts(), cfg);
  REQUIRE(find_addition(d, "labels", "example.com/role") != nullptr);
  check_round_trip(*req, cfg);
}

TEST_CASE("pods outside ML namespaces are not labelled; only secured ones refuse hostNetwork") {
  const config cfg = ml_config();
  for (const char* ns : {"default", "argocd", "team-a"}) {
    CAPTURE(ns);
    auto req = built("", "Pod", "CREATE", ns, pod_json("", "", "{\"hostNetwork\":true}"));
    CHECK(mutate(req->facts(), cfg).additions.empty());
    const decision v = validate(req->facts(), cfg);
    // argocd is a platform namespace by default: secured, so no hostNetwork (and nothing else).
    const bool secured = std::string(ns) == "argocd";
    CHECK(v.allowed != secured);
    CHECK(v.violations.size() == (secured ? 1 : 0));
  }
}

TEST_CASE("enable_ml_policies=false and enabled=false turn ML labelling off") {
  config cfg = ml_config();
  cfg.enable_ml_policies = false;
  auto req = built("", "Pod", "CREATE", "training", pod_json(""));
  CHECK(mutate(req->facts(), cfg).additions.empty());
  CHECK(validate(req->facts(), cfg).allowed);
  cfg = ml_config();
  cfg.enabled = false;
  CHECK(mutate(req->facts(), cfg).additions.empty());
  CHECK(validate(req->facts(), cfg).allowed);
}

TEST_CASE("pod templates of every workload kind get the label") {
  struct row {
    std::string group, kind, object;
    std::vector<std::vector<std::string>> paths;
    const char* source;
  };
  const std::string tmpl = "{\"spec\":{\"containers\":[]}}";
  const std::vector<row> rows{
      {"apps",
       "Deployment",
       "{\"spec\":{\"template\":" + tmpl + "}}",
       {{"spec", "template", "metadata"}},
       "namespace:training"},
      {"apps",
       "StatefulSet",
       "{\"spec\":{\"template\":" + tmpl + "}}",
       {{"spec", "template", "metadata"}},
       "namespace:training"},
      {"apps",
       "DaemonSet",
       "{\"spec\":{\"template\":" + tmpl + "}}",
       {{"spec", "template", "metadata"}},
       "namespace:training"},
      {"apps",
       "ReplicaSet",
       "{\"spec\":{\"template\":" + tmpl + "}}",
       {{"spec", "template", "metadata"}},
       "namespace:training"},
      {"batch",
       "Job",
       "{\"spec\":{\"template\":" + tmpl + "}}",
       {{"spec", "template", "metadata"}},
       "namespace:training"},
      {"batch",
       "CronJob",
       "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "jobTemplate", "spec", "template", "metadata"}},
       "namespace:training"},
      {"kubeflow.org",
       "PyTorchJob",
       "{\"spec\":{\"pytorchReplicaSpecs\":{\"Master\":{\"template\":" + tmpl +
           "},\"Worker\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "pytorchReplicaSpecs", "Master", "template", "metadata"},
        {"spec", "pytorchReplicaSpecs", "Worker", "template", "metadata"}},
       "namespace:training"},
      {"kubeflow.org",
       "TFJob",
       "{\"spec\":{\"tfReplicaSpecs\":{\"PS\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "tfReplicaSpecs", "PS", "template", "metadata"}},
       "namespace:training"},
      {"kubeflow.org",
       "MPIJob",
       "{\"spec\":{\"mpiReplicaSpecs\":{\"Launcher\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "mpiReplicaSpecs", "Launcher", "template", "metadata"}},
       "namespace:training"},
      {"kubeflow.org",
       "XGBoostJob",
       "{\"spec\":{\"xgbReplicaSpecs\":{\"Master\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "xgbReplicaSpecs", "Master", "template", "metadata"}},
       "namespace:training"},
      {"kubeflow.org",
       "PaddleJob",
       "{\"spec\":{\"paddleReplicaSpecs\":{\"Worker\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "paddleReplicaSpecs", "Worker", "template", "metadata"}},
       "namespace:training"},
      {"kubeflow.org",
       "JAXJob",
       "{\"spec\":{\"jaxReplicaSpecs\":{\"Worker\":{\"template\":" + tmpl + "}}}}",
       {{"spec", "jaxReplicaSpecs", "Worker", "template", "metadata"}},
       "namespace:training"},
      // No template: the labels its JobSet and Jobs get, in spec.labels (created when absent).
      {"trainer.kubeflow.org",
       "TrainJob",
       "{\"spec\":{\"runtimeRef\":{\"name\":\"torch-distributed\"}}}",
       {{"spec"}},
       "namespace:training"},
  };
  const config cfg = ml_config();
  for (const auto& r : rows) {
    CAPTURE(r.kind);
    auto req = built(r.group, r.kind, "CREATE", "training", r.object);
    const decision d = mutate(req->facts(), cfg);
    std::vector<std::vector<std::string>> label_paths;
    for (const auto& a : d.additions) {
      if (a.map_name == "labels") {
        CHECK(a.value == "training");
        label_paths.emplace_back(a.metadata_path.begin(), a.metadata_path.end());
      } else {
        CHECK(a.value == r.source);
      }
    }
    CHECK(label_paths == r.paths);
    check_round_trip(*req, cfg);
  }
}

TEST_CASE("the workload kind is a signal for its own template in a both-roles namespace") {
  struct row {
    std::string group, kind, object;
    const char* value;
    const char* source;
  };
  const std::string tmpl = "{\"spec\":{\"containers\":[]}}";
  const std::vector<row> rows{
      {"batch", "Job", "{\"spec\":{\"template\":" + tmpl + "}}", "training", "owner:Job"},
      {"batch", "CronJob", "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":" + tmpl + "}}}}",
       "training", "owner:Job"},
      {"kubeflow.org", "PyTorchJob",
       "{\"spec\":{\"pytorchReplicaSpecs\":{\"Master\":{\"template\":" + tmpl + "}}}}", "training",
       "owner:PyTorchJob"},
      {"trainer.kubeflow.org", "TrainJob", "{\"spec\":{\"labels\":{\"team\":\"nlp\"}}}", "training",
       "owner:TrainJob"},
      {"apps", "Deployment", "{\"spec\":{\"template\":" + tmpl + "}}", nullptr, nullptr},
      {"apps", "Deployment",
       "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"serving.kserve.io/"
       "inferenceservice\":\"m\"}},\"spec\":{}}}}",
       "inference", "label:serving.kserve.io/inferenceservice"},
  };
  const config cfg = ml_config();
  for (const auto& r : rows) {
    CAPTURE(r.kind);
    auto req = built(r.group, r.kind, "CREATE", "mlops", r.object);
    const decision d = mutate(req->facts(), cfg);
    const map_entry* label = find_addition(d, "labels", "workload-type");
    if (r.value == nullptr) {
      CHECK(label == nullptr);
      const decision v = validate(req->facts(), cfg);
      CHECK_FALSE(v.allowed);
      CHECK(has_rule(v, rule_workload_type_missing));
      continue;
    }
    REQUIRE(label != nullptr);
    CHECK(label->value == r.value);
    CHECK(find_addition(d, "annotations", std::string(source_annotation))->value == r.source);
    check_round_trip(*req, cfg);
  }
}

TEST_CASE("fixtures: mutate and validate on real API server requests") {
  struct row {
    const char* file;
    std::vector<std::string> added_labels;  // "key=value" on metadata or the template
    bool valid_before_patch;
  };
  const std::vector<row> rows{
      {"pod-create-kubectl-run.json", {"workload-type=training"}, false},
      {"pod-create-no-labels.json", {"workload-type=training"}, false},
      {"pod-create-label-key-with-slash.json", {"workload-type=training"}, false},
      {"pod-create-workload-type-training.json", {}, true},
      {"pod-create-generatename.json", {}, true},
      {"deployment-create.json", {"workload-type=training"}, false},
      {"job-create.json", {"workload-type=training"}, false},
      {"job-create-validating-webhook.json", {"workload-type=training"}, false},
      {"pod-delete.json", {}, true},
      {"networkpolicy-create.json", {}, true},
      {"networkpolicy-create-by-ssa.json", {}, true},
      {"networkpolicy-update.json", {}, true},  // admin is in system:masters
      {"namespace-create-plain.json", {}, true},
      {"namespace-update-add-label.json", {}, true},
      {"namespace-delete.json", {}, true},
      {"namespace-create-with-labels.json",
       {"mlnetpol.io/secured=true", "mlnetpol.io/training=true"},
       true},
  };
  const config cfg = ml_config();
  for (const auto& r : rows) {
    CAPTURE(r.file);
    auto req = fixture(r.file);
    const decision before = validate(req->facts(), cfg);
    CHECK(before.allowed == r.valid_before_patch);
    const decision d = mutate(req->facts(), cfg);
    std::vector<std::string> added;
    for (const auto& a : d.additions) {
      if (a.map_name == "labels") added.push_back(a.key + "=" + a.value);
    }
    CHECK(added == r.added_labels);
    CHECK(d.allowed);
    if (req->object != nullptr) check_round_trip(*req, cfg);
  }
}

TEST_CASE("validation: missing, not allowed, hostNetwork; messages name everything and the fix") {
  struct row {
    const char* what;
    std::string ns;
    std::string object;
    std::string rule;  // "" = allowed
    std::vector<std::string> message_parts;
  };
  const std::vector<row> rows{
      {"gpu-miner in training",
       "training",
       pod_json("{\"workload-type\":\"gpu-miner\"}"),
       std::string(rule_workload_type_not_allowed),
       {"pod \"p\"", "namespace \"training\"", "workload-type=gpu-miner",
        "allowed values: training", "Fix: set metadata.labels.workload-type: training"}},
      {"inference in training-only",
       "kubeflow",
       pod_json("{\"workload-type\":\"inference\"}"),
       std::string(rule_workload_type_not_allowed),
       {"namespace \"kubeflow\"", "allowed values: training"}},
      {"training in inference-only",
       "serving",
       pod_json("{\"workload-type\":\"training\"}"),
       std::string(rule_workload_type_not_allowed),
       {"allowed values: inference"}},
      {"either in mlops (training)", "mlops", pod_json("{\"workload-type\":\"training\"}"), "", {}},
      {"either in mlops (inference)",
       "mlops",
       pod_json("{\"workload-type\":\"inference\"}"),
       "",
       {}},
      {"other value in mlops",
       "mlops",
       pod_json("{\"workload-type\":\"batch\"}"),
       std::string(rule_workload_type_not_allowed),
       {"allowed values: training or inference"}},
      {"missing in mlops",
       "mlops",
       pod_json("{\"app\":\"web\"}", owner("ReplicaSet")),
       std::string(rule_workload_type_missing),
       {"pod \"p\" in namespace \"mlops\" has no label workload-type",
        "allowed values here: training or inference",
        "Fix: add metadata.labels.workload-type: training (or inference) to the pod (or its "
        "Deployment's spec.template.metadata.labels)"}},
      {"conflict explained",
       "mlops",
       pod_json("{\"training.kubeflow.org/job-name\":\"m\"}", owner("InferenceService")),
       std::string(rule_workload_type_missing),
       {"signals disagree", "owner InferenceService says inference",
        "label training.kubeflow.org/job-name says training"}},
      {"hostNetwork",
       "training",
       pod_json("{\"workload-type\":\"training\"}", "", "{\"hostNetwork\":true}"),
       std::string(rule_host_network),
       {"spec.hostNetwork: true", "bypasses every network policy", "Fix: remove spec.hostNetwork"}},
      {"hostNetwork false",
       "training",
       pod_json("{\"workload-type\":\"training\"}", "", "{\"hostNetwork\":false}"),
       "",
       {}},
      {"template not allowed",
       "training",
       "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{\"metadata\":{\"labels\":{"
       "\"workload-type\":\"inference\"}},\"spec\":{}}}}",
       std::string(rule_workload_type_not_allowed),
       {"Deployment \"web\" (spec.template)",
        "Fix: set spec.template.metadata.labels.workload-type: "
        "training"}},
  };
  const config cfg = ml_config();
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const bool is_pod = r.object.find("\"kind\":\"Pod\"") != std::string::npos;
    auto req = built(is_pod ? "" : "apps", is_pod ? "Pod" : "Deployment", "CREATE", r.ns, r.object);
    const decision d = validate(req->facts(), cfg);
    if (r.rule.empty()) {
      CHECK(d.allowed);
      CHECK(d.violations.empty());
      CHECK(d.result == outcome::allowed);
      continue;
    }
    CHECK_FALSE(d.allowed);
    CHECK(d.code == 403);
    CHECK(d.result == outcome::denied);
    CHECK(has_rule(d, r.rule));
    for (const auto& part : r.message_parts) {
      CHECK_MESSAGE(d.message.find(part) != std::string::npos, d.message, " lacks ", part);
    }
  }
}

TEST_CASE("deny_host_network=false allows hostNetwork") {
  config cfg = ml_config();
  cfg.deny_host_network = false;
  auto req = built("", "Pod", "CREATE", "training",
                   pod_json("{\"workload-type\":\"training\"}", "", "{\"hostNetwork\":true}"));
  CHECK(validate(req->facts(), cfg).allowed);
}

TEST_CASE("pod UPDATE: only taking a valid label away is denied") {
  const config cfg = ml_config();
  struct row {
    const char* what;
    std::string old_labels, new_labels;
    bool allowed;
  };
  const std::vector<row> rows{
      {"label removed", "{\"workload-type\":\"training\"}", "{}", false},
      {"label changed to invalid", "{\"workload-type\":\"training\"}", "{\"workload-type\":\"x\"}",
       false},
      {"label kept", "{\"workload-type\":\"training\"}", "{\"workload-type\":\"training\"}", true},
      {"pre-existing unlabelled pod updated", "{}", "{\"other\":\"x\"}", true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    auto req =
        built("", "Pod", "UPDATE", "training", pod_json(r.new_labels), pod_json(r.old_labels));
    CHECK(validate(req->facts(), cfg).allowed == r.allowed);
    CHECK(mutate(req->facts(), cfg).additions.empty());
  }
}

TEST_CASE("managed policies: only the webhook's identity or admin groups may change them") {
  const config cfg = ml_config();
  const std::string managed =
      "{\"metadata\":{\"name\":\"default-deny-ingress\",\"labels\":{\"app.kubernetes.io/"
      "managed-by\":\"mlnetpol\"}},\"spec\":{}}";
  const std::string unmanaged = "{\"metadata\":{\"name\":\"mine\"},\"spec\":{}}";
  struct row {
    const char* what;
    std::string group, kind, operation, object, old_object, user;
    std::vector<std::string> groups;
    bool allowed;
  };
  const std::vector<row> rows{
      {"user updates managed",
       "networking.k8s.io",
       "NetworkPolicy",
       "UPDATE",
       managed,
       managed,
       "alice",
       {"dev"},
       false},
      {"user deletes managed",
       "networking.k8s.io",
       "NetworkPolicy",
       "DELETE",
       "null",
       managed,
       "alice",
       {"dev"},
       false},
      {"user removes the managed-by label",
       "networking.k8s.io",
       "NetworkPolicy",
       "UPDATE",
       unmanaged,
       managed,
       "alice",
       {"dev"},
       false},
      {"user marks a policy managed",
       "networking.k8s.io",
       "NetworkPolicy",
       "UPDATE",
       managed,
       unmanaged,
       "alice",
       {"dev"},
       false},
      {"user creates",
       "networking.k8s.io",
       "NetworkPolicy",
       "CREATE",
       managed,
       "null",
       "alice",
       {"dev"},
       true},
      {"user updates unmanaged",
       "networking.k8s.io",
       "NetworkPolicy",
       "UPDATE",
       unmanaged,
       unmanaged,
       "alice",
       {"dev"},
       true},
      {"webhook SA updates",
       "networking.k8s.io",
       "NetworkPolicy",
       "UPDATE",
       managed,
       managed,
       cfg.service_account,
       {"system:serviceaccounts"},
       true},
      {"admin group deletes",
       "networking.k8s.io",
       "NetworkPolicy",
       "DELETE",
       "null",
       managed,
       "root",
       {"system:masters"},
       true},
      {"user updates managed CNP",
       "cilium.io",
       "CiliumNetworkPolicy",
       "UPDATE",
       managed,
       managed,
       "alice",
       {"dev"},
       false},
      {"user deletes managed CCNP",
       "cilium.io",
       "CiliumClusterwideNetworkPolicy",
       "DELETE",
       "null",
       managed,
       "alice",
       {"dev"},
       false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    auto req = built(r.group, r.kind, r.operation, "team-a", r.object, r.old_object);
    req->username = r.user;
    req->groups = r.groups;
    const decision d = validate(req->facts(), cfg);
    CHECK(d.allowed == r.allowed);
    CHECK(mutate(req->facts(), cfg).allowed);
    if (!r.allowed) {
      CHECK(has_rule(d, rule_managed_policy));
      CHECK(d.message.find("managed by mlnetpol") != std::string::npos);
      CHECK(d.message.find("mlnetpol configuration") != std::string::npos);
    }
  }
}

TEST_CASE("exempt namespaces, users and groups: always allowed, never patched") {
  config cfg = ml_config();
  cfg.ml_training_namespaces.push_back("kube-system");
  cfg.exempt_users = {"ci-bot"};
  cfg.exempt_groups = {"platform-admins"};
  const std::string bad = pod_json("{\"workload-type\":\"x\"}", "", "{\"hostNetwork\":true}");
  struct row {
    const char* what;
    std::string ns, user, group;
  };
  for (const auto& r : std::vector<row>{{"namespace", "kube-system", "alice", "dev"},
                                        {"user", "training", "ci-bot", "dev"},
                                        {"group", "training", "alice", "platform-admins"}}) {
    CAPTURE(r.what);
    auto req = built("", "Pod", "CREATE", r.ns, pod_json(""));
    req->username = r.user;
    req->groups = {r.group};
    const decision m = mutate(req->facts(), cfg);
    CHECK(m.additions.empty());
    CHECK(m.result == outcome::exempt);
    auto bad_req = built("", "Pod", "CREATE", r.ns, bad);
    bad_req->username = r.user;
    bad_req->groups = {r.group};
    const decision v = validate(bad_req->facts(), cfg);
    CHECK(v.allowed);
    CHECK(v.result == outcome::exempt);
    CHECK(v.violations.empty());
  }
}

TEST_CASE("namespaces get mlnetpol.io/secured, role labels and workload-type") {
  struct row {
    const char* ns;
    std::vector<std::string> labels;  // expected additions, in order
  };
  config cfg = ml_config();
  cfg.tenant_namespaces = {"team-alpha"};
  const std::vector<row> rows{
      {"training",
       {"mlnetpol.io/secured=true", "mlnetpol.io/training=true", "workload-type=training"}},
      {"serving",
       {"mlnetpol.io/secured=true", "mlnetpol.io/inference=true", "workload-type=inference"}},
      {"mlops",
       {"mlnetpol.io/secured=true", "mlnetpol.io/training=true", "mlnetpol.io/inference=true"}},
      {"argocd", {"mlnetpol.io/secured=true", "mlnetpol.io/platform=true"}},
      {"team-alpha", {"mlnetpol.io/secured=true", "mlnetpol.io/tenant=true"}},
      {"team-b", {}},
      {"default", {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.ns);
    for (const char* op : {"CREATE", "UPDATE"}) {
      CAPTURE(op);
      auto req = built("", "Namespace", op, r.ns,
                       std::string("{\"metadata\":{\"name\":\"") + r.ns +
                           "\",\"labels\":{\"kubernetes.io/metadata.name\":\"" + r.ns + "\"}}}",
                       std::string(op) == "UPDATE" ? "{\"metadata\":{\"name\":\"x\"}}" : "null");
      const decision d = mutate(req->facts(), cfg);
      std::vector<std::string> added;
      for (const auto& a : d.additions) {
        CHECK(a.metadata_path == path_steps{"metadata"});
        added.push_back(a.key + "=" + a.value);
      }
      CHECK(added == r.labels);
      check_round_trip(*req, cfg);
    }
  }
}

TEST_CASE("namespace UPDATE puts back removed or changed owned labels, never workload-type") {
  const config cfg = ml_config();
  auto req = built("", "Namespace", "UPDATE", "training",
                   "{\"metadata\":{\"name\":\"training\",\"labels\":{\"mlnetpol.io/secured\":"
                   "\"false\",\"workload-type\":\"inference\"}}}",
                   "{\"metadata\":{\"name\":\"training\",\"labels\":{\"mlnetpol.io/secured\":"
                   "\"true\",\"mlnetpol.io/training\":\"true\",\"workload-type\":\"training\"}}}");
  const decision d = mutate(req->facts(), cfg);
  std::vector<std::string> added;
  for (const auto& a : d.additions) added.push_back(a.key + "=" + a.value);
  CHECK(added == std::vector<std::string>{"mlnetpol.io/secured=true", "mlnetpol.io/training=true"});
  REQUIRE(d.warnings.size() == 1);
  CHECK(d.warnings[0].find("workload-type=inference left as is") != std::string::npos);
}

TEST_CASE("modes: enforce, warn, audit and the per-namespace override") {
  const std::string bad = pod_json("{\"workload-type\":\"gpu-miner\"}");
  const std::string unlabelled = pod_json("", owner("PyTorchJob"));
  struct row {
    enforcement_mode global;
    const char* override_label;  // nullptr: no label
    enforcement_mode effective;
  };
  const std::vector<row> rows{
      {enforcement_mode::enforce, nullptr, enforcement_mode::enforce},
      {enforcement_mode::warn, nullptr, enforcement_mode::warn},
      {enforcement_mode::audit, nullptr, enforcement_mode::audit},
      {enforcement_mode::enforce, "audit", enforcement_mode::audit},
      {enforcement_mode::enforce, "warn", enforcement_mode::warn},
      {enforcement_mode::audit, "enforce", enforcement_mode::enforce},
      {enforcement_mode::warn, "bogus", enforcement_mode::warn},
  };
  for (const auto& r : rows) {
    config cfg = ml_config();
    cfg.enforcement = r.global;
    CAPTURE(static_cast<int>(r.global));
    CAPTURE(r.override_label ? r.override_label : "-");
    auto v_req = built("", "Pod", "CREATE", "training", bad);
    auto m_req = built("", "Pod", "CREATE", "mlops", unlabelled);
    for (auto* req : {v_req.get(), m_req.get()}) {
      if (r.override_label != nullptr) {
        req->namespace_labels_known = true;
        req->namespace_labels = {{"mlnetpol.io/enforcement", r.override_label}};
      }
    }
    const decision v = validate(v_req->facts(), cfg);
    const decision m = mutate(m_req->facts(), cfg);
    CHECK(v.mode == r.effective);
    CHECK(m.mode == r.effective);
    REQUIRE(v.violations.size() == 1);
    CHECK(v.violations[0].rule == rule_workload_type_not_allowed);
    const bool bogus = r.override_label != nullptr && std::string(r.override_label) == "bogus";
    const std::size_t extra = bogus ? 1 : 0;  // the warning about the ignored label
    switch (r.effective) {
      case enforcement_mode::enforce:
        CHECK_FALSE(v.allowed);
        CHECK(v.result == outcome::denied);
        CHECK(v.warnings.size() == extra);
        CHECK(m.result == outcome::patched);
        CHECK(m.additions.size() == 2);
        break;
      case enforcement_mode::warn:
        CHECK(v.allowed);
        CHECK(v.code == 0);
        CHECK(v.result == outcome::warned);
        REQUIRE(v.warnings.size() == 1 + extra);
        CHECK(v.warnings.back().find("workload-type=gpu-miner") != std::string::npos);
        CHECK(m.result == outcome::patched);
        CHECK(m.additions.size() == 2);
        if (bogus) {
          CHECK(v.warnings[0] ==
                "namespace training: ignoring mlnetpol.io/enforcement=bogus (expected enforce, "
                "warn or audit)");
        }
        break;
      case enforcement_mode::audit:
        CHECK(v.allowed);
        CHECK(v.result == outcome::audited);
        REQUIRE(v.warnings.size() == 1);
        CHECK(v.warnings[0].rfind("would deny: ", 0) == 0);
        REQUIRE(v.audit_annotations.size() == 1);
        CHECK(v.audit_annotations[0].first == "would-deny");
        CHECK(v.audit_annotations[0].second.find("Fix:") != std::string::npos);
        CHECK(m.result == outcome::audited);
        CHECK(m.additions.empty());
        REQUIRE(m.warnings.size() == 1);
        CHECK(m.warnings[0] ==
              "would add label workload-type=training (inferred from owner PyTorchJob)");
        REQUIRE(m.audit_annotations.size() == 1);
        CHECK(m.audit_annotations[0].first == "would-add-label");
        CHECK(m.audit_annotations[0].second == "workload-type=training (owner:PyTorchJob)");
        break;
    }
  }
}

TEST_CASE("audit validation judges the object as mutation would leave it") {
  config cfg = ml_config();
  cfg.enforcement = enforcement_mode::audit;
  auto inferable = built("", "Pod", "CREATE", "training", pod_json(""));
  const decision v = validate(inferable->facts(), cfg);
  CHECK(v.violations.empty());
  CHECK(v.result == outcome::allowed);
  auto not_inferable = built("", "Pod", "CREATE", "mlops", pod_json(""));
  const decision w = validate(not_inferable->facts(), cfg);
  CHECK(w.result == outcome::audited);
  CHECK(has_rule(w, rule_workload_type_missing));
}

TEST_CASE("the namespace's own labels choose the mode of a Namespace request") {
  config cfg = ml_config();
  auto req = built("", "Namespace", "CREATE", "training",
                   "{\"metadata\":{\"name\":\"training\",\"labels\":{\"mlnetpol.io/enforcement\":"
                   "\"audit\"}}}");
  const decision d = mutate(req->facts(), cfg);
  CHECK(d.mode == enforcement_mode::audit);
  CHECK(d.additions.empty());
  CHECK(d.result == outcome::audited);
  CHECK(d.warnings.size() == 3);
  CHECK(d.warnings[0] == "would add label mlnetpol.io/secured=true to namespace training");
}

TEST_CASE("a Namespace's mode label is its first string-valued one; an invalid one is named") {
  config cfg = ml_config();
  // A repeated key: the number is passed over, the first string counts.
  auto repeated = built("", "Namespace", "CREATE", "training",
                        "{\"metadata\":{\"name\":\"training\",\"labels\":{"
                        "\"mlnetpol.io/enforcement\":5,\"mlnetpol.io/enforcement\":\"warn\","
                        "\"mlnetpol.io/enforcement\":\"audit\"}}}");
  // An administrator's request: only admins may set the label.
  repeated->groups = {"system:masters"};
  CHECK(validate(repeated->facts(), cfg).mode == enforcement_mode::warn);
  auto invalid = built("", "Namespace", "CREATE", "training",
                       "{\"metadata\":{\"name\":\"training\",\"labels\":{"
                       "\"mlnetpol.io/enforcement\":\"strict\"}}}");
  invalid->groups = {"system:masters"};
  const decision d = validate(invalid->facts(), cfg);
  CHECK(d.mode == cfg.enforcement);
  REQUIRE(d.warnings.size() == 1);
  CHECK(d.warnings[0] ==
        "namespace training: ignoring mlnetpol.io/enforcement=strict (expected enforce, warn or "
        "audit)");
}

TEST_CASE("dryRun gets the same answer") {
  const config cfg = ml_config();
  for (const char* file : {"pod-create-kubectl-run.json", "deployment-create.json"}) {
    auto req = fixture(file);
    request_facts f = req->facts();
    const decision real = mutate(f, cfg);
    f.dry_run = true;
    const decision dry = mutate(f, cfg);
    CHECK(real.additions == dry.additions);
    CHECK(real.result == dry.result);
  }
}

TEST_CASE("other sub-resources and other kinds are not judged") {
  const config cfg = ml_config();
  auto status = built("", "Pod", "UPDATE", "training", pod_json("{\"workload-type\":\"x\"}"),
                      pod_json("{\"workload-type\":\"training\"}"));
  status->sub_resource = "ephemeralcontainers";
  CHECK(validate(status->facts(), cfg).allowed);
  auto cm = built("", "ConfigMap", "CREATE", "training", "{\"metadata\":{\"name\":\"c\"}}");
  CHECK(mutate(cm->facts(), cfg).result == outcome::allowed);
  CHECK(validate(cm->facts(), cfg).result == outcome::allowed);
}

TEST_CASE("warnings stay within the API server's limits") {
  config cfg = ml_config();
  cfg.enforcement = enforcement_mode::warn;
  std::string replicas;
  for (int i = 0; i < 200; ++i) {
    if (i != 0) replicas += ",";
    replicas += "\"Replica" + std::to_string(i) +
                "\":{\"template\":{\"metadata\":{\"labels\":{\"workload-type\":\"nope-" +
                std::string(40, 'x') + "\"}},\"spec\":{\"hostNetwork\":true}}}";
  }
  auto req = built("kubeflow.org", "PyTorchJob", "CREATE", "training",
                   "{\"metadata\":{\"name\":\"" + std::string(60, 'j') +
                       "\"},\"spec\":{\"pytorchReplicaSpecs\":{" + replicas + "}}}");
  const decision d = validate(req->facts(), cfg);
  CHECK(d.violations.size() == 400);
  std::size_t total = 0;
  for (const auto& w : d.warnings) {
    CHECK(w.size() <= 120);
    CHECK(w.rfind("Warning:", 0) == std::string::npos);
    total += w.size();
  }
  CHECK(total <= 4096);
  CHECK(d.warnings.back().find("more warnings omitted") != std::string::npos);
}

TEST_CASE(
    "workload UPDATE: only templates whose labels, annotations or hostNetwork changed are "
    "patched and judged") {
  const config cfg = ml_config();
  const auto deployment = [](std::string_view metadata, std::string_view template_labels,
                             std::string_view image, std::string_view pod_spec = "") {
    return cat(R"({"metadata":{"name":"web")", metadata,
               R"(},"spec":{"template":{"metadata":{"labels":{)", template_labels, R"(}},"spec":{)",
               pod_spec, R"("containers":[{"name":"c","image":")", image, R"("}]}}}})");
  };
  const std::string old_deployment = deployment("", R"("app":"web")", "nginx:1");
  // A finalizer (the garbage collector) or a new image: no field a decision reads changed
  // (policy/template_fields.hpp), so a Deployment that predates mlnetpol stays updatable.
  const std::string finalizer =
      deployment(R"(,"finalizers":["foregroundDeletion"])", R"("app":"web")", "nginx:1");
  const std::string new_image = deployment("", R"("app":"web")", "nginx:2");
  for (const char* ns : {"mlops", "training"}) {
    for (const std::string* now : {&finalizer, &new_image}) {
      CAPTURE(ns);
      CAPTURE(*now);
      auto unchanged = built("apps", "Deployment", "UPDATE", ns, *now, old_deployment);
      CHECK(mutate(unchanged->facts(), cfg).additions.empty());
      CHECK(validate(unchanged->facts(), cfg).allowed);
    }
  }
  // Changed template labels in a namespace that pins the type are labelled ...
  const std::string relabelled = deployment("", R"("app":"web2")", "nginx:1");
  auto labelled = built("apps", "Deployment", "UPDATE", "training", relabelled, old_deployment);
  CHECK(find_addition(mutate(labelled->facts(), cfg), "labels", "workload-type") != nullptr);
  check_round_trip(*labelled, cfg);
  // ... and where nothing can be inferred they are denied; so is a wrong value.
  auto denied = built("apps", "Deployment", "UPDATE", "mlops", relabelled, old_deployment);
  CHECK(mutate(denied->facts(), cfg).additions.empty());
  const decision d = validate(denied->facts(), cfg);
  CHECK_FALSE(d.allowed);
  CHECK(has_rule(d, rule_workload_type_missing));
  // hostNetwork set on the template writes it too.
  const std::string host = deployment("", R"("app":"web")", "nginx:1", R"("hostNetwork":true,)");
  auto host_update = built("apps", "Deployment", "UPDATE", "mlops", host, old_deployment);
  CHECK_FALSE(validate(host_update->facts(), cfg).allowed);
}

TEST_CASE("TrainJob: spec.labels is the label site, judged as a template's labels") {
  const config cfg = ml_config();
  const std::string group = "trainer.kubeflow.org";
  const auto trainjob = [](const std::string& spec_members) {
    return R"({"apiVersion":"trainer.kubeflow.org/v1alpha1","kind":"TrainJob",)"
           R"("metadata":{"name":"llm","labels":{"workload-type":"training"}},)"
           R"("spec":{"runtimeRef":{"name":"torch-distributed"})" +
           spec_members + "}}";
  };
  // The labels the TrainJob itself carries are not the site: spec.labels has none.
  auto missing = built(group, "TrainJob", "CREATE", "mlops", trainjob(""));
  decision d = validate(missing->facts(), cfg);
  CHECK_FALSE(d.allowed);
  CHECK(has_rule(d, rule_workload_type_missing));
  CHECK(d.message ==
        "TrainJob \"llm\" (spec.labels) in namespace \"mlops\" has no label workload-type; "
        "allowed values here: training or inference. Fix: add spec.labels.workload-type: training "
        "(or inference)");
  // Mutation adds it to the labels map it creates, with the source annotation beside it.
  d = mutate(missing->facts(), cfg);
  REQUIRE(d.additions.size() == 2);
  CHECK(d.additions[0] == map_entry{{"spec"}, "labels", "workload-type", "training"});
  CHECK(d.additions[1] ==
        map_entry{{"spec"}, "annotations", std::string(source_annotation), "owner:TrainJob"});
  check_round_trip(*missing, cfg);
  // An existing map keeps its members and gets the key.
  auto existing = built(group, "TrainJob", "CREATE", "training",
                        trainjob(R"(,"labels":{"team":"nlp"},"annotations":{"a":"b"})"));
  check_round_trip(*existing, cfg);
  CHECK(map_value(json_member(existing->object, "spec"), "labels", "team") == "nlp");
  CHECK(map_value(json_member(existing->object, "spec"), "labels", "workload-type") == "training");

  // A value not allowed is never overwritten, and refused naming spec.labels.
  auto wrong = built(group, "TrainJob", "CREATE", "training",
                     trainjob(R"(,"labels":{"workload-type":"inference"})"));
  CHECK(mutate(wrong->facts(), cfg).additions.empty());
  d = validate(wrong->facts(), cfg);
  CHECK_FALSE(d.allowed);
  CHECK(has_rule(d, rule_workload_type_not_allowed));
  CHECK(d.message ==
        "TrainJob \"llm\" (spec.labels) in namespace \"training\" has label "
        "workload-type=inference, which is not allowed here; allowed values: training. Fix: set "
        "spec.labels.workload-type: training");
  // No pod spec: a hostNetwork member of spec is no pod's, so not judged.
  auto host = built(group, "TrainJob", "CREATE", "argocd", trainjob(R"(,"hostNetwork":true)"));
  CHECK(validate(host->facts(), cfg).allowed);

  // UPDATE: judged when spec.labels or spec.annotations change, not when only other fields do
  // (Kueue suspends and resumes TrainJobs that may predate mlnetpol).
  const std::string old_job = trainjob(R"(,"suspend":true)");
  auto resumed =
      built(group, "TrainJob", "UPDATE", "mlops", trainjob(R"(,"suspend":false)"), old_job);
  CHECK(mutate(resumed->facts(), cfg).additions.empty());
  CHECK(validate(resumed->facts(), cfg).allowed);
  auto relabelled = built(group, "TrainJob", "UPDATE", "mlops",
                          trainjob(R"(,"suspend":true,"labels":{"workload-type":"gpu"})"), old_job);
  CHECK(has_rule(validate(relabelled->facts(), cfg), rule_workload_type_not_allowed));
  auto annotated = built(group, "TrainJob", "UPDATE", "mlops",
                         trainjob(R"(,"suspend":true,"annotations":{"a":"b"})"), old_job);
  CHECK(has_rule(validate(annotated->facts(), cfg), rule_workload_type_missing));
}

namespace {

std::string namespace_json(const std::string& name, const std::string& labels_json) {
  return "{\"metadata\":{\"name\":\"" + name + "\",\"labels\":" + labels_json + "}}";
}

// The labels mlops carries once mlnetpol labelled it.
const std::string mlops_labels =
    "{\"kubernetes.io/metadata.name\":\"mlops\",\"mlnetpol.io/secured\":\"true\","
    "\"mlnetpol.io/training\":\"true\",\"mlnetpol.io/inference\":\"true\"";

}  // namespace

TEST_CASE("namespace labels: only the service account and admin_groups change mlnetpol.io labels") {
  struct row {
    std::string what;
    std::string operation, new_labels, old_labels;  // old "" = no old object (CREATE)
    bool allowed;
    std::string detail;  // the labels named in a refusal
  };
  const std::string base = mlops_labels + "}";
  const std::string audit = mlops_labels + ",\"mlnetpol.io/enforcement\":\"audit\"}";
  const std::string warn = mlops_labels + ",\"mlnetpol.io/enforcement\":\"warn\"}";
  const std::vector<row> rows{
      {"override added", "UPDATE", audit, base, false, "mlnetpol.io/enforcement"},
      {"override changed", "UPDATE", audit, warn, false, "mlnetpol.io/enforcement"},
      {"override tightened", "UPDATE", base + "", warn, false, "mlnetpol.io/enforcement"},
      {"override set on create", "CREATE", audit, "", false, "mlnetpol.io/enforcement"},
      {"any mlnetpol.io key", "UPDATE", mlops_labels + ",\"mlnetpol.io/anything\":\"x\"}", base,
       false, "mlnetpol.io/anything"},
      {"secured set to false", "UPDATE",
       "{\"mlnetpol.io/secured\":\"false\",\"mlnetpol.io/training\":\"true\","
       "\"mlnetpol.io/inference\":\"true\"}",
       base, false, "mlnetpol.io/secured"},
      {"role labels removed", "UPDATE", "{\"kubernetes.io/metadata.name\":\"mlops\"}", base, false,
       "mlnetpol.io/inference,mlnetpol.io/secured,mlnetpol.io/training"},
      {"a role the namespace does not have", "UPDATE",
       mlops_labels + ",\"mlnetpol.io/platform\":\"true\"}", base, false, "mlnetpol.io/platform"},
      {"two at once, sorted", "UPDATE",
       mlops_labels + ",\"mlnetpol.io/z\":\"1\",\"mlnetpol.io/enforcement\":\"audit\"}", base,
       false, "mlnetpol.io/enforcement,mlnetpol.io/z"},
      // What mlnetpol's own mutation adds under the requester's identity.
      {"role labels as mlnetpol sets them", "UPDATE", base,
       "{\"kubernetes.io/metadata.name\":\"mlops\"}", true, ""},
      {"role labels on create", "CREATE", base, "", true, ""},
      {"other labels", "UPDATE", mlops_labels + ",\"team\":\"ml\"}", warn.substr(0, 0) + base, true,
       ""},
      {"override kept while other labels change", "UPDATE",
       mlops_labels + ",\"mlnetpol.io/enforcement\":\"warn\",\"team\":\"ml\"}", warn, true, ""},
      {"similar prefix is not mlnetpol's", "UPDATE",
       mlops_labels + ",\"x.mlnetpol.io/enforcement\":\"audit\",\"mlnetpol.iox\":\"1\"}", base,
       true, ""},
  };
  for (const enforcement_mode global :
       {enforcement_mode::enforce, enforcement_mode::warn, enforcement_mode::audit}) {
    config cfg = ml_config();
    cfg.enforcement = global;
    cfg.exempt_users = {"alice"};  // exemptions do not reach mlnetpol's own labels
    CAPTURE(to_string(global));
    for (const auto& r : rows) {
      CAPTURE(r.what);
      auto req = built("", "Namespace", r.operation, "mlops", namespace_json("mlops", r.new_labels),
                       r.old_labels.empty() ? "null" : namespace_json("mlops", r.old_labels));
      req->username = "system:serviceaccount:mlops:tenant-admin";
      req->groups = {"system:serviceaccounts", "system:serviceaccounts:mlops",
                     "system:authenticated"};
      const decision d = validate(req->facts(), cfg);
      CHECK(d.allowed == r.allowed);
      CHECK(d.detail == r.detail);
      if (!r.allowed) {
        CHECK(d.code == 403);
        CHECK(d.result == outcome::denied);
        CHECK(d.mode == enforcement_mode::enforce);  // whatever the namespace's mode
        REQUIRE(d.violations.size() == 1);
        CHECK(d.violations[0].rule == rule_namespace_label);
        CHECK(d.message.find("system:serviceaccount:mlops:tenant-admin may not change label") !=
              std::string::npos);
        CHECK(d.message.find(cfg.service_account) != std::string::npos);
        CHECK(d.message.find("admin_groups (system:masters)") != std::string::npos);
        // Each refused label is named with what happened to it.
        for (std::size_t at = 0, next; at < r.detail.size(); at = next + 1) {
          next = r.detail.find(',', at);
          if (next == std::string::npos) next = r.detail.size();
          CHECK(d.message.find(r.detail.substr(at, next - at) + " (") != std::string::npos);
        }
      }
      // The same request through the status and finalize sub-resources.
      for (const char* sub : {"status", "finalize"}) {
        req->sub_resource = sub;
        CHECK(validate(req->facts(), cfg).allowed == r.allowed);
      }
      req->sub_resource.clear();
      // mlnetpol's service account and admin groups may.
      req->username = cfg.service_account;
      CHECK(validate(req->facts(), cfg).violations.empty());
      req->username = "root";
      req->groups = {"system:masters"};
      CHECK(validate(req->facts(), cfg).violations.empty());
    }
  }
}

TEST_CASE("namespace labels: the messages say what changed") {
  const config cfg = ml_config();
  auto req = built("", "Namespace", "UPDATE", "mlops",
                   namespace_json("mlops",
                                  "{\"mlnetpol.io/enforcement\":\"audit\","
                                  "\"mlnetpol.io/training\":\"false\"}"),
                   namespace_json("mlops",
                                  "{\"mlnetpol.io/training\":\"true\","
                                  "\"mlnetpol.io/inference\":\"true\"}"));
  const decision d = validate(req->facts(), cfg);
  CHECK_FALSE(d.allowed);
  CHECK(d.message.find("mlnetpol.io/enforcement (added: audit), mlnetpol.io/inference (removed: "
                       "was true), mlnetpol.io/training (changed: true -> false)") !=
        std::string::npos);
  CHECK(d.message.find("namespace \"mlops\": alice may not change label") == 0);
  CHECK(d.message.find("Fix:") != std::string::npos);
  // No admin groups: the message names only the service account.
  config none = cfg;
  none.admin_groups.clear();
  CHECK(validate(req->facts(), none).message.find("admin_groups") == std::string::npos);
  // Not judged: a disabled mlnetpol, a DELETE, other kinds with such labels.
  config off = cfg;
  off.enabled = false;
  CHECK(validate(req->facts(), off).allowed);
  auto gone = built("", "Namespace", "DELETE", "mlops", "null",
                    namespace_json("mlops", "{\"mlnetpol.io/enforcement\":\"audit\"}"));
  CHECK(validate(gone->facts(), cfg).allowed);
  auto pod =
      built("", "Pod", "CREATE", "team-b", pod_json("{\"mlnetpol.io/enforcement\":\"audit\"}"));
  CHECK(validate(pod->facts(), cfg).allowed);
}

TEST_CASE("namespace labels: what the mutation puts back passes validation in enforce") {
  // A tenant removes mlnetpol.io/secured: in enforce the mutation puts it back, so the request as
  // the validating webhook sees it changes nothing of mlnetpol's and is admitted.
  const config cfg = ml_config();
  auto req = built("", "Namespace", "UPDATE", "mlops",
                   namespace_json("mlops",
                                  "{\"mlnetpol.io/training\":\"true\","
                                  "\"mlnetpol.io/inference\":\"true\"}"),
                   namespace_json("mlops", mlops_labels + "}"));
  CHECK_FALSE(validate(req->facts(), cfg).allowed);
  check_round_trip(*req, cfg);
}

TEST_CASE("hostNetwork is denied in every secured namespace, per role") {
  config cfg = ml_config();
  cfg.platform_namespaces = {"argocd"};
  cfg.tenant_namespaces = {"team-a"};
  const std::string pod = pod_json("", "", "{\"hostNetwork\":true}");
  const std::string deployment =
      "{\"metadata\":{\"name\":\"agent\"},\"spec\":{\"template\":{\"metadata\":{},\"spec\":{"
      "\"hostNetwork\":true}}}}";
  struct row {
    const char* ns;
    bool secured;
  };
  for (const auto& r : std::vector<row>{{"argocd", true},
                                        {"team-a", true},
                                        {"training", true},
                                        {"serving", true},
                                        {"team-b", false}}) {
    CAPTURE(r.ns);
    auto p = built("", "Pod", "CREATE", r.ns, pod);
    const decision d = validate(p->facts(), cfg);
    CHECK(d.allowed != r.secured);
    CHECK(has_rule(d, rule_host_network) == r.secured);
    auto w = built("apps", "Deployment", "CREATE", r.ns, deployment);
    const decision t = validate(w->facts(), cfg);
    CHECK(has_rule(t, rule_host_network) == r.secured);
    if (std::string(r.ns) == "team-a") {
      // Outside ML namespaces only hostNetwork is judged: no workload-type is needed.
      CHECK(d.violations.size() == 1);
      CHECK(d.message.find("denied in secured namespaces") != std::string::npos);
      CHECK(t.message.find("spec.template.spec.hostNetwork: true") != std::string::npos);
      auto plain = built("", "Pod", "CREATE", "team-a", pod_json(""));
      CHECK(validate(plain->facts(), cfg).violations.empty());
    }
  }
  // Per role: a namespace refuses when any of its roles is listed.
  cfg.deny_host_network_roles = {"training"};
  for (const char* ns : {"argocd", "team-a", "serving"}) {
    CAPTURE(ns);
    auto p = built("", "Pod", "CREATE", ns, pod);
    CHECK_FALSE(has_rule(validate(p->facts(), cfg), rule_host_network));
  }
  for (const char* ns : {"training", "mlops"}) {
    CAPTURE(ns);
    auto p = built("", "Pod", "CREATE", ns, pod);
    CHECK(has_rule(validate(p->facts(), cfg), rule_host_network));
  }
  cfg.deny_host_network_roles = {"platform", "tenant", "training", "inference"};
  cfg.deny_host_network = false;  // the switch for all roles
  auto p = built("", "Pod", "CREATE", "argocd", pod);
  CHECK(validate(p->facts(), cfg).allowed);
}

TEST_CASE("pods/status cannot change the workload label") {
  config cfg = ml_config();
  cfg.tenant_namespaces = {"team-a"};
  struct row {
    const char* what;
    std::string ns, old_labels, new_labels;
    bool allowed;
  };
  const std::vector<row> rows{
      {"to a value not allowed", "mlops", "{\"workload-type\":\"training\"}",
       "{\"workload-type\":\"gpu-miner\"}", false},
      {"to another allowed value", "mlops", "{\"workload-type\":\"training\"}",
       "{\"workload-type\":\"inference\"}", false},
      {"removed", "mlops", "{\"workload-type\":\"training\"}", "{}", false},
      {"added outside ML namespaces", "team-a", "{}", "{\"workload-type\":\"training\"}", false},
      {"unchanged", "mlops", "{\"workload-type\":\"training\"}", "{\"workload-type\":\"training\"}",
       true},
      {"other labels", "team-a", "{\"app\":\"a\"}", "{\"app\":\"b\"}", true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    auto req = built("", "Pod", "UPDATE", r.ns, pod_json(r.new_labels), pod_json(r.old_labels));
    req->sub_resource = "status";
    const decision d = validate(req->facts(), cfg);
    CHECK(d.allowed == r.allowed);
    CHECK(has_rule(d, rule_label_via_status) == !r.allowed);
    if (!r.allowed) {
      CHECK(d.message.find("through the pods/status sub-resource is denied") != std::string::npos);
      CHECK(d.message.find("pod \"p\" in namespace \"" + r.ns + "\"") == 0);
    }
    CHECK(mutate(req->facts(), cfg).additions.empty());
  }
  auto req = built("", "Pod", "UPDATE", "mlops", pod_json("{\"workload-type\":\"gpu-miner\"}"),
                   pod_json("{\"workload-type\":\"training\"}"));
  req->sub_resource = "status";
  CHECK(validate(req->facts(), cfg).message.find("(training -> gpu-miner)") != std::string::npos);
  // The mode applies as to the pod's own rules; exemptions too.
  cfg.enforcement = enforcement_mode::audit;
  CHECK(validate(req->facts(), cfg).result == outcome::audited);
  cfg.enforcement = enforcement_mode::enforce;
  cfg.exempt_users = {"alice"};
  CHECK(validate(req->facts(), cfg).result == outcome::exempt);
}
