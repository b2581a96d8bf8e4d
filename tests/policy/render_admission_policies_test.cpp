// policy/render/admission_policies.cpp: which ValidatingAdmissionPolicies and bindings a
// configuration renders, and what their selectors and actions say. The CEL itself is judged by the
// real API server (tests/e2e/admission_policies_test.cpp).
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "policy/config.hpp"
#include "policy/render/admission_policies.hpp"

namespace policy = mlnetpol::policy;

namespace {

struct parsed {
  std::string kind;
  std::string name;
  rapidjson::Document doc;
};

std::vector<parsed> render(const policy::config& cfg,
                           std::string_view version = policy::admission_policy_v1beta1) {
  std::vector<parsed> out;
  for (const auto& o : policy::render_admission_policies(cfg, version)) {
    parsed p;
    p.kind = o.kind;
    p.name = o.name;
    p.doc.Parse(o.json.c_str());
    REQUIRE_FALSE(p.doc.HasParseError());
    CHECK(std::string(p.doc["apiVersion"].GetString()) == version);
    CHECK(std::string(p.doc["metadata"]["labels"]["app.kubernetes.io/managed-by"].GetString()) ==
          "mlnetpol");
    CHECK(std::string(p.doc["metadata"]["annotations"]["mlnetpol.io/spec-hash"].GetString()) ==
          o.spec_hash);
    out.push_back(std::move(p));
  }
  return out;
}

const parsed* find(const std::vector<parsed>& objects, std::string_view name) {
  for (const auto& o : objects)
    if (o.name == name) return &o;
  return nullptr;
}

std::vector<std::string> strings(const rapidjson::Value& array) {
  std::vector<std::string> out;
  for (const auto& v : array.GetArray()) out.emplace_back(v.GetString());
  return out;
}

// The binding's namespace names and its mlnetpol.io/enforcement expression "In warn" / "NotIn ...".
struct selection {
  std::vector<std::string> names;
  std::string enforcement;
  std::vector<std::string> actions;
};
selection selection_of(const parsed& binding) {
  selection s;
  const auto& spec = binding.doc["spec"];
  s.actions = strings(spec["validationActions"]);
  for (const auto& e : spec["matchResources"]["namespaceSelector"]["matchExpressions"].GetArray()) {
    const std::string key = e["key"].GetString();
    if (key == "kubernetes.io/metadata.name") {
      CHECK(std::string(e["operator"].GetString()) == "In");
      s.names = strings(e["values"]);
    } else if (key == "mlnetpol.io/enforcement") {
      s.enforcement = std::string(e["operator"].GetString());
      for (const auto& v : strings(e["values"])) s.enforcement += " " + v;
    }
  }
  return s;
}

policy::config sample() {
  policy::config cfg;
  cfg.platform_namespaces = {"argocd"};
  cfg.tenant_namespaces = {"team-a", "kube-system"};  // an exempt namespace is never selected
  cfg.ml_training_namespaces = {"training", "mlops"};
  cfg.ml_inference_namespaces = {"serving", "mlops"};
  return cfg;
}

}  // namespace

TEST_CASE("admission policies: one per allowed set, hostNetwork, policy set; three bindings each") {
  const auto objects = render(sample());
  std::vector<std::string> names;
  for (const auto& o : objects) names.push_back(o.kind + "/" + o.name);
  CHECK(names ==
        std::vector<std::string>{
            "ValidatingAdmissionPolicy/mlnetpol-workload-type-training",
            "ValidatingAdmissionPolicy/mlnetpol-workload-type-training-inference",
            "ValidatingAdmissionPolicy/mlnetpol-workload-type-inference",
            "ValidatingAdmissionPolicy/mlnetpol-host-network",
            "ValidatingAdmissionPolicy/mlnetpol-policy-set",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-training-enforce",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-training-warn",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-training-audit",
            "ValidatingAdmissionPolicyBinding/"
            "mlnetpol-workload-type-training-inference-enforce",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-training-inference-warn",
            "ValidatingAdmissionPolicyBinding/"
            "mlnetpol-workload-type-training-inference-audit",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-inference-enforce",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-inference-warn",
            "ValidatingAdmissionPolicyBinding/mlnetpol-workload-type-inference-audit",
            "ValidatingAdmissionPolicyBinding/mlnetpol-host-network-enforce",
            "ValidatingAdmissionPolicyBinding/mlnetpol-host-network-warn",
            "ValidatingAdmissionPolicyBinding/mlnetpol-host-network-audit",
            "ValidatingAdmissionPolicyBinding/mlnetpol-policy-set-enforce",
            "ValidatingAdmissionPolicyBinding/mlnetpol-policy-set-warn",
            "ValidatingAdmissionPolicyBinding/mlnetpol-policy-set-audit"});
  // The outage half of issue 23: every secured namespace.
  CHECK(selection_of(*find(objects, "mlnetpol-policy-set-enforce")).names ==
        std::vector<std::string>{"argocd", "team-a", "training", "mlops", "serving"});
  // Each binding names its policy; the ML ones select by name only their namespaces.
  CHECK(selection_of(*find(objects, "mlnetpol-workload-type-training-enforce")).names ==
        std::vector<std::string>{"training"});
  CHECK(selection_of(*find(objects, "mlnetpol-workload-type-training-inference-enforce")).names ==
        std::vector<std::string>{"mlops"});
  CHECK(selection_of(*find(objects, "mlnetpol-workload-type-inference-warn")).names ==
        std::vector<std::string>{"serving"});
  CHECK(selection_of(*find(objects, "mlnetpol-host-network-audit")).names ==
        std::vector<std::string>{"argocd", "team-a", "training", "mlops", "serving"});
  CHECK(std::string(
            find(objects, "mlnetpol-host-network-warn")->doc["spec"]["policyName"].GetString()) ==
        "mlnetpol-host-network");
}

TEST_CASE("admission policies: modes become actions; the enforcement label overrides") {
  for (const auto mode : {policy::enforcement_mode::enforce, policy::enforcement_mode::warn,
                          policy::enforcement_mode::audit}) {
    CAPTURE(policy::to_string(mode));
    policy::config cfg = sample();
    cfg.enforcement = mode;
    const auto objects = render(cfg);
    const std::map<std::string, std::string> action{
        {"enforce", "Deny"}, {"warn", "Warn"}, {"audit", "Audit"}};
    for (const std::string m : {"enforce", "warn", "audit"}) {
      const selection s = selection_of(*find(objects, "mlnetpol-host-network-" + m));
      CHECK(s.actions == std::vector<std::string>{action.at(m)});
      // Pods are gated in every mode that applies policies, so the outage refuses in both.
      CHECK(selection_of(*find(objects, "mlnetpol-policy-set-" + m)).actions ==
            std::vector<std::string>{m == "audit" ? "Audit" : "Deny"});
      if (m == policy::to_string(mode)) {
        // The configured mode: unless the label names another valid mode (an invalid value keeps
        // it, as the engine does).
        std::string others = "NotIn";
        for (const std::string o : {"enforce", "warn", "audit"})
          if (o != m) others += " " + o;
        CHECK(s.enforcement == others);
      } else {
        CHECK(s.enforcement == "In " + m);
      }
    }
  }
}

TEST_CASE("admission policies: deny_host_network and its roles") {
  policy::config cfg = sample();
  cfg.deny_host_network_roles = {"training"};
  auto objects = render(cfg);
  CHECK(selection_of(*find(objects, "mlnetpol-host-network-enforce")).names ==
        std::vector<std::string>{"training", "mlops"});
  cfg.deny_host_network = false;
  objects = render(cfg);
  CHECK(find(objects, "mlnetpol-host-network") == nullptr);
  CHECK(find(objects, "mlnetpol-host-network-enforce") == nullptr);
  CHECK(find(objects, "mlnetpol-workload-type-training") != nullptr);
  CHECK(find(objects, "mlnetpol-policy-set") != nullptr);
}

TEST_CASE("admission policies: nothing when disabled or without ML policies and namespaces") {
  policy::config cfg = sample();
  cfg.enabled = false;
  CHECK(policy::render_admission_policies(cfg, policy::admission_policy_v1).empty());
  cfg = sample();
  cfg.enable_ml_policies = false;
  const auto objects = render(cfg);
  CHECK(find(objects, "mlnetpol-workload-type-training") == nullptr);
  // Without ML roles the ML namespaces have no role hostNetwork is denied for.
  CHECK(selection_of(*find(objects, "mlnetpol-host-network-enforce")).names ==
        std::vector<std::string>{"argocd", "team-a"});
}

TEST_CASE("admission policies: CEL names the configured label and the allowed values") {
  policy::config cfg = sample();
  cfg.label_key = "example.com/it's";  // a quote must not end the CEL string literal
  cfg.exempt_users = {"ci-bot"};
  cfg.exempt_groups = {"system:nodes"};
  const auto objects = render(cfg, policy::admission_policy_v1);
  const auto& spec = find(objects, "mlnetpol-workload-type-training-inference")->doc["spec"];
  std::string all;
  for (const auto& v : spec["validations"].GetArray()) all += v["expression"].GetString();
  CHECK(all.find(R"('example.com/it\'s' in t.metadata.labels)") != std::string::npos);
  CHECK(all.find("['training', 'inference']") != std::string::npos);
  const std::string missing = spec["validations"][0]["messageExpression"].GetString();
  CHECK(missing.find("allowed values here: training or inference. Fix: add ") != std::string::npos);
  CHECK(missing.find("training (or inference)") != std::string::npos);
  // Exempt users and groups as match conditions; every workload kind the engine handles.
  CHECK(std::string(spec["matchConditions"][0]["expression"].GetString()) ==
        "!(request.userInfo.username in ['ci-bot'])");
  std::set<std::string> resources;
  for (const auto& r : spec["matchConstraints"]["resourceRules"].GetArray())
    for (const auto& name : strings(r["resources"])) resources.insert(name);
  CHECK(resources == std::set<std::string>{"pods", "deployments", "statefulsets", "daemonsets",
                                           "replicasets", "jobs", "cronjobs", "pytorchjobs",
                                           "tfjobs", "mpijobs", "xgboostjobs", "paddlejobs",
                                           "jaxjobs", "trainjobs"});
}

TEST_CASE(
    "admission policies: an UPDATE writes a template when its labels, annotations or "
    "hostNetwork change, as the engine compares (policy/template_fields.hpp)") {
  const auto objects = render(sample());
  const auto& spec = find(objects, "mlnetpol-workload-type-training")->doc["spec"];
  std::string templates;
  for (const auto& v : spec["variables"].GetArray())
    if (std::string(v["name"].GetString()) == "templates") templates = v["expression"].GetString();
  // Not the whole template: an image-only update of a Deployment that predates mlnetpol passes.
  CHECK(templates.find("oldObject.spec.template != t") == std::string::npos);
  CHECK(templates.find("[k].template != object") == std::string::npos);
  CHECK(templates.find(
            ".filter(t, oldObject == null || !(has(oldObject.spec) && "
            "has(oldObject.spec.template)) || (has(oldObject.spec.template.metadata) && "
            "has(oldObject.spec.template.metadata.labels)) != (has(t.metadata) && "
            "has(t.metadata.labels)) || (has(t.metadata) && has(t.metadata.labels) && "
            "oldObject.spec.template.metadata.labels != t.metadata.labels) || "
            "(has(oldObject.spec.template.metadata) && "
            "has(oldObject.spec.template.metadata.annotations)) != (has(t.metadata) && "
            "has(t.metadata.annotations)) || (has(t.metadata) && has(t.metadata.annotations) && "
            "oldObject.spec.template.metadata.annotations != t.metadata.annotations) || "
            "(has(oldObject.spec.template.spec) && has(oldObject.spec.template.spec.hostNetwork)) "
            "!= (has(t.spec) && has(t.spec.hostNetwork)) || (has(t.spec) && "
            "has(t.spec.hostNetwork) && oldObject.spec.template.spec.hostNetwork != "
            "t.spec.hostNetwork))") != std::string::npos);
  // A Kubeflow job's replica templates: the same three fields, per replica type.
  CHECK(templates.find("oldObject.spec.pytorchReplicaSpecs[k].template.spec.hostNetwork != "
                       "object.spec.pytorchReplicaSpecs[k].template.spec.hostNetwork") !=
        std::string::npos);
  CHECK(templates.find("oldObject.spec.pytorchReplicaSpecs[k].template.metadata.labels != "
                       "object.spec.pytorchReplicaSpecs[k].template.metadata.labels") !=
        std::string::npos);
}

TEST_CASE("admission policies: a TrainJob's spec.labels stand as its template's labels") {
  const auto objects = render(sample());
  const auto& spec = find(objects, "mlnetpol-workload-type-training")->doc["spec"];
  std::map<std::string, std::string> variables;
  for (const auto& v : spec["variables"].GetArray())
    variables[v["name"].GetString()] = v["expression"].GetString();
  // The TrainJob branch: object.spec as the metadata of one template (so t.metadata.labels is
  // object.spec.labels), written when its labels or annotations change.
  const std::string templates = variables.at("templates");
  CHECK(templates.find("request.resource.resource in ['trainjobs'] ? ((has(object.spec) ? "
                       "[object.spec] : []).filter(t, oldObject == null || !(has(oldObject.spec)) "
                       "|| has(oldObject.spec.labels) != has(t.labels) || (has(t.labels) && "
                       "oldObject.spec.labels != t.labels) || has(oldObject.spec.annotations) != "
                       "has(t.annotations) || (has(t.annotations) && oldObject.spec.annotations "
                       "!= t.annotations)).map(t, {'metadata': t}))") != std::string::npos);
  // Messages name spec.labels as the webhook's do.
  CHECK(variables.at("template_path")
            .find("request.resource.resource in ['trainjobs'] ? "
                  "'spec.labels'") != std::string::npos);
  CHECK(variables.at("labels_path")
            .find("request.resource.resource in ['trainjobs'] ? "
                  "'spec.labels'") != std::string::npos);
  CHECK(variables.at("labels_path").find("'spec.template.metadata.labels'") != std::string::npos);
  const std::string missing = spec["validations"][0]["messageExpression"].GetString();
  CHECK(missing.find("variables.labels_path + '.workload-type: training'") != std::string::npos);
  // hostNetwork: a TrainJob's "template" has no spec, so the policy never refuses one.
  const auto& host = find(objects, "mlnetpol-host-network")->doc["spec"];
  CHECK(std::string(host["validations"][0]["expression"].GetString())
            .starts_with("variables.templates.all(t, !has(t.spec) ||"));
}

TEST_CASE("admission policies: the policy-set rule reads the annotation and the gate") {
  const auto objects = render(sample());
  const auto& spec = find(objects, "mlnetpol-policy-set")->doc["spec"];
  const std::string expression = spec["validations"][0]["expression"].GetString();
  CHECK(expression.find("'mlnetpol.io/policy-set' in namespaceObject.metadata.annotations") !=
        std::string::npos);
  CHECK(expression.find("object.spec.schedulingGates.exists(g, g.name == "
                        "'mlnetpol.io/policy-set')") != std::string::npos);
  // Pod CREATE only: the API refuses new gates on UPDATE, and workloads are not pods.
  REQUIRE(spec["matchConstraints"]["resourceRules"].Size() == 1);
  CHECK(strings(spec["matchConstraints"]["resourceRules"][0]["operations"]) ==
        std::vector<std::string>{"CREATE"});
}

TEST_CASE("admission policies: deterministic, the hash follows the spec") {
  const auto a = policy::render_admission_policies(sample(), policy::admission_policy_v1);
  const auto b = policy::render_admission_policies(sample(), policy::admission_policy_v1);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].json == b[i].json);
  policy::config other = sample();
  other.tenant_namespaces.push_back("team-b");
  const auto c = policy::render_admission_policies(other, policy::admission_policy_v1);
  CHECK(a.back().spec_hash != c.back().spec_hash);    // the host-network audit binding
  CHECK(a.front().spec_hash == c.front().spec_hash);  // the training policy itself
}
