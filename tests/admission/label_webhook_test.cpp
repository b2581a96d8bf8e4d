#include "admission/label_webhook.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "admission/codec.hpp"
#include "policy/name_rules.hpp"
#include "tests/admission/test_support.hpp"
#include "tests/support/trainjob.hpp"
#include "tests/support/webhook_under_test.hpp"

using mlnetpol::admission::decode_review;
using mlnetpol::admission::label_webhook;
using mlnetpol::admission::review_request;
using mlnetpol::admission::review_response;
using mlnetpol::admission::testing::fixture;
using mlnetpol::testing::policy_handlers;
using nlohmann::json;
namespace policy = mlnetpol::policy;

namespace {

// Namespace labels as the controller's cache would know them from the API server.
class fake_lookup final : public policy::namespace_lookup {
 public:
  std::map<std::string, policy::label_map, std::less<>> labels;
  std::shared_ptr<const policy::label_map> labels_of(std::string_view name) const override {
    const auto it = labels.find(name);
    if (it == labels.end()) return nullptr;
    return std::make_shared<const policy::label_map>(it->second);
  }
};

policy::config ml_config(policy::enforcement_mode mode = policy::enforcement_mode::enforce) {
  policy::config cfg;
  cfg.ml_training_namespaces.push_back("ml-training");
  cfg.enforcement = mode;
  return cfg;
}

review_request decode(const json& review) {
  auto decoded = decode_review(review.dump());
  if (!decoded.has_value()) FAIL("decode: " << decoded.error().message);
  return std::move(*decoded);
}

// The review with request.object (and its namespace/name where given) replaced.
json with_object(json review, const json& object) {
  review["request"]["object"] = object;
  return review;
}

json apply_patch(const json& object, const std::string& patch) {
  REQUIRE_FALSE(patch.empty());
  return object.patch(json::parse(patch));
}

json pod_review(const std::string& ns, const json& labels, const json& spec = json::object(),
                const std::string& operation = "CREATE") {
  json review = json::parse(fixture("pod-create-no-labels.json"));
  review["request"]["namespace"] = ns;
  review["request"]["operation"] = operation;
  json& object = review["request"]["object"];
  object["metadata"]["namespace"] = ns;
  if (!labels.is_null()) object["metadata"]["labels"] = labels;
  for (auto it = spec.begin(); it != spec.end(); ++it) object["spec"][it.key()] = it.value();
  return review;
}

json namespace_review(const std::string& name, const json& labels, bool dry_run = false,
                      const std::string& operation = "CREATE") {
  json review = json::parse(fixture("namespace-create-plain.json"));
  review["request"]["name"] = name;
  review["request"]["namespace"] = name;
  review["request"]["operation"] = operation;
  review["request"]["dryRun"] = dry_run;
  review["request"]["object"]["metadata"]["name"] = name;
  review["request"]["object"]["metadata"]["labels"] = labels;
  if (operation == "DELETE") {
    review["request"]["oldObject"] = review["request"]["object"];
    review["request"]["object"] = nullptr;
  }
  return review;
}

}  // namespace

TEST_CASE("every fixture: mutate, apply the patch (nlohmann), validate passes, second pass no-op") {
  policy_handlers handlers(ml_config());
  std::set<std::string> patched;
  for (const auto& path : mlnetpol::admission::testing::review_fixtures()) {
    const std::string name = path.filename().string();
    CAPTURE(name);
    const json review = json::parse(fixture(name));
    const review_request request = decode(review);
    const review_response mutated = handlers.mutate().handle(request);
    CHECK(mutated.allowed);
    CHECK(mutated.violations.empty());
    json object = review["request"]["object"];
    if (!mutated.patch.empty()) {
      patched.insert(name);
      CHECK(mutated.decision == "patched");
      object = apply_patch(object, mutated.patch);
      const review_response again = handlers.mutate().handle(decode(with_object(review, object)));
      CHECK(again.patch.empty());
      CHECK(again.decision == "allowed");
    } else {
      CHECK(mutated.decision == "allowed");
    }
    const review_response validated =
        handlers.validate().handle(decode(with_object(review, object)));
    CHECK_MESSAGE(validated.allowed, validated.message);
    CHECK(validated.violations.empty());
  }
  CHECK(patched ==
        std::set<std::string>{"deployment-create.json", "job-create-validating-webhook.json",
                              "job-create.json", "namespace-create-with-labels.json",
                              "pod-create-kubectl-run.json", "pod-create-label-key-with-slash.json",
                              "pod-create-no-labels.json"});
}

TEST_CASE("the patch adds the labels map when absent, with the source annotation") {
  policy_handlers handlers(ml_config());
  const json review = json::parse(fixture("pod-create-no-labels.json"));
  const review_response r = handlers.mutate().handle(decode(review));
  const json patched = apply_patch(review["request"]["object"], r.patch);
  CHECK(patched["metadata"]["labels"] == json{{"workload-type", "training"}});
  CHECK(patched["metadata"]["annotations"]["mlnetpol.io/workload-type-source"] ==
        "namespace:ml-training");
  // Nothing else changed.
  json back = patched;
  back["metadata"].erase("labels");
  back["metadata"].erase("annotations");
  CHECK(back == review["request"]["object"]);
}

TEST_CASE("templates: the Deployment's template gets the label, the Deployment itself does not") {
  policy_handlers handlers(ml_config());
  const json review = json::parse(fixture("deployment-create.json"));
  const review_response r = handlers.mutate().handle(decode(review));
  const json patched = apply_patch(review["request"]["object"], r.patch);
  CHECK(patched["spec"]["template"]["metadata"]["labels"] ==
        json{{"app", "web"}, {"workload-type", "training"}});
  CHECK(patched["metadata"]["labels"] == json{{"app", "web"}});
}

namespace {

// A TrainJob CREATE in ns with the given spec, as the API server would send it.
json trainjob_review(const std::string& ns, const json& spec) {
  return mlnetpol::testing::as_trainjob_review(json::parse(fixture("deployment-create.json")), ns,
                                               {{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
                                                {"kind", "TrainJob"},
                                                {"metadata", {{"name", "llm"}}},
                                                {"spec", spec}});
}

}  // namespace

TEST_CASE("TrainJob: the patch writes spec.labels (created when absent), nothing else") {
  policy_handlers handlers(ml_config());
  const json runtime = {{"runtimeRef", {{"name", "torch-distributed"}}},
                        {"trainer", {{"numNodes", 2}}}};
  for (const bool with_map : {false, true}) {
    CAPTURE(with_map);
    json spec = runtime;
    if (with_map) spec["labels"] = {{"team", "nlp"}};
    const json review = trainjob_review("ml-training", spec);
    const review_response r = handlers.mutate().handle(decode(review));
    CHECK(r.decision == "patched");
    const json patched = apply_patch(review["request"]["object"], r.patch);
    json labels = with_map ? json{{"team", "nlp"}} : json::object();
    labels["workload-type"] = "training";
    CHECK(patched["spec"]["labels"] == labels);
    CHECK(patched["spec"]["annotations"] ==
          json{{"mlnetpol.io/workload-type-source", "namespace:ml-training"}});
    json back = patched;
    back["spec"].erase("annotations");
    if (with_map) {
      back["spec"]["labels"].erase("workload-type");
    } else {
      back["spec"].erase("labels");
    }
    CHECK(back == review["request"]["object"]);  // the TrainJob's own metadata untouched
    const review_response validated =
        handlers.validate().handle(decode(with_object(review, patched)));
    CHECK_MESSAGE(validated.allowed, validated.message);
    CHECK(handlers.mutate().handle(decode(with_object(review, patched))).patch.empty());
  }
  // A value not allowed is refused, naming spec.labels.
  json spec = runtime;
  spec["labels"] = {{"workload-type", "inference"}};
  const review_response r =
      handlers.validate().handle(decode(trainjob_review("ml-training", spec)));
  CHECK_FALSE(r.allowed);
  CHECK(r.code == 403);
  CHECK_MESSAGE(r.message.find("TrainJob \"llm\" (spec.labels) in namespace \"ml-training\" has "
                               "label workload-type=inference") != std::string::npos,
                r.message);
  CHECK_MESSAGE(r.message.find("Fix: set spec.labels.workload-type: training") != std::string::npos,
                r.message);
}

TEST_CASE("denial: 403 with an actionable message, counted as a violation") {
  policy_handlers handlers(ml_config());
  const review_response r = handlers.validate().handle(
      decode(pod_review("ml-training", {{"workload-type", "gpu-miner"}})));
  CHECK_FALSE(r.allowed);
  CHECK(r.code == 403);
  CHECK(r.reason == "Forbidden");
  CHECK(r.decision == "denied");
  CHECK(r.mode == "enforce");  // for the decision log line
  CHECK(r.message.find("pod \"bare\" in namespace \"ml-training\" has label "
                       "workload-type=gpu-miner") != std::string::npos);
  CHECK(r.message.find("Fix: set metadata.labels.workload-type: training") != std::string::npos);
  REQUIRE(r.violations.size() == 1);
  CHECK(r.violations[0].rule == "workload-type-not-allowed");
  CHECK(r.violations[0].mode == "enforce");

  const review_response host = handlers.validate().handle(
      decode(pod_review("ml-training", {{"workload-type", "training"}}, {{"hostNetwork", true}})));
  CHECK_FALSE(host.allowed);
  REQUIRE(host.violations.size() == 1);
  CHECK(host.violations[0].rule == "host-network");
  CHECK(host.message.find("hostNetwork") != std::string::npos);
}

TEST_CASE("warn and audit modes") {
  policy_handlers warn(ml_config(policy::enforcement_mode::warn));
  const json bad = pod_review("ml-training", {{"workload-type", "gpu-miner"}});
  const review_response w = warn.validate().handle(decode(bad));
  CHECK(w.allowed);
  CHECK(w.code == 0);
  CHECK(w.decision == "warned");
  REQUIRE(w.warnings.size() == 1);
  CHECK(w.violations.at(0).mode == "warn");
  const review_response wm = warn.mutate().handle(decode(pod_review("ml-training", nullptr)));
  CHECK_FALSE(wm.patch.empty());

  policy_handlers audit(ml_config(policy::enforcement_mode::audit));
  const review_response a = audit.validate().handle(decode(bad));
  CHECK(a.allowed);
  CHECK(a.decision == "audited");
  CHECK(a.violations.at(0).mode == "audit");
  REQUIRE(a.audit_annotations.size() == 1);
  CHECK(a.audit_annotations[0].first == "would-deny");
  const review_response am = audit.mutate().handle(decode(pod_review("ml-training", nullptr)));
  CHECK(am.patch.empty());
  CHECK(am.decision == "audited");
  REQUIRE(am.warnings.size() == 1);
  CHECK(am.warnings[0] ==
        "would add label workload-type=training (inferred from namespace ml-training "
        "(training-only))");
  REQUIRE(am.audit_annotations.size() == 1);
  CHECK(am.audit_annotations[0].first == "would-add-label");
}

TEST_CASE("audit annotation keys are valid once the API server prefixes the webhook name") {
  policy_handlers audit(ml_config(policy::enforcement_mode::audit));
  const auto check_keys = [](const review_response& r) {
    for (const auto& [key, value] : r.audit_annotations) {
      CAPTURE(key);
      CHECK(key.find('/') == std::string::npos);
      CHECK(key.size() <= 63);
      CHECK(mlnetpol::policy::is_qualified_name("mutate.mlnetpol.io/" + key));
      CHECK_FALSE(value.empty());
    }
  };
  check_keys(audit.mutate().handle(decode(pod_review("ml-training", nullptr))));
  check_keys(audit.validate().handle(decode(pod_review("ml-training", {{"workload-type", "x"}}))));
}

TEST_CASE("a forged Namespace request does not change the decision about a later pod") {
  policy_handlers handlers(ml_config());
  const json bad = pod_review("ml-training", {{"workload-type", "gpu-miner"}});
  CHECK(handlers.validate().handle(decode(bad)).decision == "denied");
  // Anyone may send the webhook a Namespace UPDATE; the labels in it are not the cluster's.
  for (const char* mode : {"audit", "warn"}) {
    handlers.mutate().handle(decode(
        namespace_review("ml-training", {{"mlnetpol.io/enforcement", mode}}, false, "UPDATE")));
    handlers.validate().handle(decode(
        namespace_review("ml-training", {{"mlnetpol.io/enforcement", mode}}, false, "UPDATE")));
    CHECK(handlers.validate().handle(decode(bad)).decision == "denied");
  }
}

TEST_CASE("the per-namespace override comes from the namespace lookup only") {
  fake_lookup namespaces;
  policy_handlers handlers(ml_config(), &namespaces);
  const json bad = pod_review("ml-training", {{"workload-type", "gpu-miner"}});
  CHECK(handlers.validate().handle(decode(bad)).decision == "denied");  // not synced yet

  namespaces.labels["ml-training"] = {{"mlnetpol.io/enforcement", "warn"}};
  CHECK(handlers.validate().handle(decode(bad)).decision == "warned");
  // Another namespace is unaffected.
  CHECK(handlers.validate()
            .handle(decode(pod_review("training", {{"workload-type", "x"}})))
            .decision == "denied");

  namespaces.labels["ml-training"] = {{"mlnetpol.io/enforcement", "audit"}};
  CHECK(handlers.validate().handle(decode(bad)).decision == "audited");
  // A request claiming otherwise changes nothing.
  handlers.validate().handle(decode(
      namespace_review("ml-training", {{"mlnetpol.io/enforcement", "enforce"}}, false, "UPDATE")));
  CHECK(handlers.validate().handle(decode(bad)).decision == "audited");

  namespaces.labels.erase("ml-training");
  CHECK(handlers.validate().handle(decode(bad)).decision == "denied");
}

TEST_CASE("an internal error is HTTP 500 (the failurePolicy decides), never 200 allowed:false") {
  class failing_lookup final : public policy::namespace_lookup {
   public:
    std::shared_ptr<const policy::label_map> labels_of(std::string_view) const override {
      throw std::runtime_error("cache broken");
    }
  };
  failing_lookup namespaces;
  policy_handlers handlers(ml_config(), &namespaces);
  const std::string body = pod_review("ml-training", {{"workload-type", "gpu-miner"}}).dump();
  const auto outcome = mlnetpol::admission::process_review(body, handlers.validate());
  CHECK(outcome.http_status == 500);
  CHECK(outcome.decision == "error");
  CHECK(outcome.error.find("cache broken") != std::string::npos);
}

TEST_CASE("dryRun requests get exactly the answer a real one gets") {
  policy_handlers handlers(ml_config());
  for (const char* file :
       {"pod-create-kubectl-run.json", "job-create.json", "namespace-create-with-labels.json"}) {
    CAPTURE(file);
    json review = json::parse(fixture(file));
    const review_response real = handlers.mutate().handle(decode(review));
    review["request"]["dryRun"] = true;
    const review_response dry = handlers.mutate().handle(decode(review));
    CHECK(real.patch == dry.patch);
    CHECK(real.decision == dry.decision);
    CHECK(real.warnings == dry.warnings);
  }
}

TEST_CASE("exempt users get decision exempt and no patch") {
  policy::config cfg = ml_config();
  cfg.exempt_users = {"admin"};
  policy_handlers handlers(cfg);
  const review_response r =
      handlers.mutate().handle(decode(json::parse(fixture("pod-create-kubectl-run.json"))));
  CHECK(r.allowed);
  CHECK(r.patch.empty());
  CHECK(r.decision == "exempt");
}

TEST_CASE("managed policy protection through the handler") {
  policy::config cfg = ml_config();
  cfg.admin_groups = {};
  policy_handlers handlers(cfg);
  const review_response r =
      handlers.validate().handle(decode(json::parse(fixture("networkpolicy-update.json"))));
  CHECK_FALSE(r.allowed);
  CHECK(r.violations.at(0).rule == "managed-policy");
  CHECK(r.message.find("NetworkPolicy \"default-deny-ingress\" in namespace \"ml-training\" is "
                       "managed by mlnetpol") != std::string::npos);
  json review = json::parse(fixture("networkpolicy-update.json"));
  review["request"]["userInfo"]["username"] = cfg.service_account;
  CHECK(handlers.validate().handle(decode(review)).allowed);
}

TEST_CASE("namespace labels through the handler: the tenant is refused whatever the mode") {
  // The fixture: an administrator (system:masters) labels team-a; a tenant's service account
  // adding the enforcement override to it is refused, even with the namespace's own label asking
  // for audit.
  policy::config cfg = ml_config();
  cfg.tenant_namespaces = {"team-a"};
  policy_handlers handlers(cfg);
  json review = json::parse(fixture("namespace-update-add-label.json"));
  CHECK(handlers.validate().handle(decode(review)).allowed);
  review["request"]["object"]["metadata"]["labels"]["mlnetpol.io/enforcement"] = "audit";
  CHECK(handlers.validate().handle(decode(review)).allowed);  // still the administrator
  review["request"]["userInfo"] = {
      {"username", "system:serviceaccount:team-a:tenant-admin"},
      {"groups",
       {"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"}}};
  const review_response r = handlers.validate().handle(decode(review));
  CHECK_FALSE(r.allowed);
  CHECK(r.code == 403);
  CHECK(r.decision == "denied");
  CHECK(r.mode == "enforce");
  REQUIRE(r.violations.size() == 1);
  CHECK(r.violations[0].rule == "namespace-label");
  CHECK(r.violations[0].mode == "enforce");
  CHECK(r.detail == "mlnetpol.io/enforcement");
  CHECK(r.message.find("mlnetpol.io/enforcement (added: audit)") != std::string::npos);
}

TEST_CASE("update_config swaps the configuration for later requests") {
  policy_handlers handlers(ml_config());
  const json review = json::parse(fixture("pod-create-kubectl-run.json"));
  CHECK_FALSE(handlers.mutate().handle(decode(review)).patch.empty());
  const auto before = handlers.current_config();
  policy::config next = ml_config();
  next.ml_training_namespaces = {"training"};
  handlers.update_config(next);
  CHECK(handlers.mutate().handle(decode(review)).patch.empty());
  CHECK(*handlers.current_config() == next);
  CHECK(before->ml_training_namespaces.back() == "ml-training");  // the old one stays valid
}

TEST_CASE("concurrent requests, namespace requests and config reloads") {
  policy_handlers handlers(ml_config());
  const json pod = json::parse(fixture("pod-create-kubectl-run.json"));
  const review_request pod_request = decode(pod);
  const review_request ns_request =
      decode(namespace_review("ml-training", {{"mlnetpol.io/enforcement", "warn"}}));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        if (t == 0 && i % 10 == 0) handlers.update_config(ml_config());
        if (t == 1) handlers.mutate().handle(ns_request);
        const review_response r = handlers.mutate().handle(pod_request);
        if (!r.allowed || r.patch.empty()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
}

TEST_CASE("tenant policy guardrails through the handler: decoded, judged, counted in their mode") {
  // A captured NetworkPolicy CREATE in ml-training (secured), sent by a tenant, with the issue's
  // allow-all spec.
  json review = json::parse(fixture("networkpolicy-create.json"));
  review["request"]["userInfo"] = {{"username", "system:serviceaccount:ml-training:tenant"},
                                   {"groups", {"system:serviceaccounts", "system:authenticated"}}};
  review["request"]["object"]["metadata"]["name"] = "allow-all";
  review["request"]["object"]["spec"] = {{"podSelector", json::object()},
                                         {"policyTypes", {"Ingress", "Egress"}},
                                         {"ingress", {json::object()}},
                                         {"egress", {json::object()}}};
  policy_handlers handlers(ml_config());
  const review_response r = handlers.validate().handle(decode(review));
  CHECK_FALSE(r.allowed);
  CHECK(r.code == 403);
  CHECK(r.decision == "denied");
  CHECK(r.message.find("NetworkPolicy \"allow-all\" allows egress to every address: "
                       "spec.egress[0]") != std::string::npos);
  CHECK(r.message.find("mlnetpol.io/exception-reason") != std::string::npos);
  REQUIRE(r.violations.size() == 3);
  CHECK(r.violations[0].rule == "tenant-policy-egress-all");
  CHECK(r.violations[0].mode == "enforce");

  // A narrow, documented exception is admitted.
  json narrow = review;
  narrow["request"]["object"]["metadata"]["annotations"] = {
      {"mlnetpol.io/exception-reason", "training reads the feature store"}};
  narrow["request"]["object"]["spec"]["ingress"] = json::array();
  narrow["request"]["object"]["spec"]["egress"] = {
      {{"to", {{{"ipBlock", {{"cidr", "10.0.12.0/24"}}}}}}}};
  const review_response ok = handlers.validate().handle(decode(narrow));
  CHECK(ok.allowed);
  CHECK(ok.violations.empty());

  // Guardrails in warn while the label engine enforces: violations are counted as warn.
  policy::config cfg = ml_config();
  cfg.tenant_policy_guardrails = policy::enforcement_mode::warn;
  policy_handlers warn(cfg);
  const review_response w = warn.validate().handle(decode(review));
  CHECK(w.allowed);
  CHECK(w.decision == "warned");
  CHECK(w.mode == "enforce");
  REQUIRE(w.violations.size() == 3);
  CHECK(w.violations[0].mode == "warn");
  CHECK(w.warnings.size() == 3);

  // Audit: allowed, annotated, counted as audit.
  cfg.tenant_policy_guardrails = policy::enforcement_mode::audit;
  policy_handlers audit(cfg);
  const review_response a = audit.validate().handle(decode(review));
  CHECK(a.allowed);
  CHECK(a.decision == "audited");
  CHECK(a.violations.at(0).mode == "audit");
  REQUIRE(a.audit_annotations.size() == 1);
  CHECK(a.audit_annotations[0].first == "would-deny-tenant-policy");

  // A CiliumNetworkPolicy's specs[] survive decoding too.
  json cnp = review;
  cnp["request"]["kind"] = {{"group", "cilium.io"}, {"version", "v2"}, {"kind", "CiliumNetworkPolicy"}};
  cnp["request"]["resource"] = {
      {"group", "cilium.io"}, {"version", "v2"}, {"resource", "ciliumnetworkpolicies"}};
  cnp["request"]["object"]["spec"] = nullptr;
  cnp["request"]["object"]["specs"] = {
      {{"endpointSelector", json::object()}, {"egress", {{{"toEntities", {"world", "cluster"}}}}}}};
  const review_response c = handlers.validate().handle(decode(cnp));
  CHECK_FALSE(c.allowed);
  CHECK(c.message.find("specs[0].egress[0].toEntities[0] world") != std::string::npos);
}

namespace {

policy::config tenant_config(policy::enforcement_mode mode = policy::enforcement_mode::enforce) {
  policy::config cfg;
  cfg.tenant_namespaces = {"team-a"};
  cfg.service_account = "system:serviceaccount:mlnetpol-system:mlnetpol";
  cfg.enforcement = mode;
  return cfg;
}

json gate(const std::string& name) {
  return {{"name", name}};
}

}  // namespace

TEST_CASE("scheduling gate: a pod created before its namespace's set is stored is gated") {
  mlnetpol::testing::controller_lookup lookup;
  policy_handlers handlers(tenant_config(), &lookup);
  SUBCASE("no gates yet: the list is created, with the label") {
    const json review = pod_review("team-a", json::object());
    const review_response r = handlers.mutate().handle(decode(review));
    CHECK(r.decision == "patched");
    const json after = apply_patch(review["request"]["object"], r.patch);
    CHECK(after["spec"]["schedulingGates"] == json::array({gate("mlnetpol.io/policy-set")}));
    CHECK(after["metadata"]["labels"]["mlnetpol.io/gated"] == "true");
    // Mutating the gated pod again adds nothing (reinvocation).
    const review_response again = handlers.mutate().handle(decode(with_object(review, after)));
    CHECK(again.patch.empty());
  }
  SUBCASE("after another controller's gates, and a dryRun gets the same patch") {
    json review = pod_review("team-a", {{"app", "web"}},
                             {{"schedulingGates", json::array({gate("example.com/quota")})}});
    const review_response r = handlers.mutate().handle(decode(review));
    review["request"]["dryRun"] = true;
    const review_response dry = handlers.mutate().handle(decode(review));
    CHECK(dry.patch == r.patch);
    const json after = apply_patch(review["request"]["object"], r.patch);
    CHECK(after["spec"]["schedulingGates"] ==
          json::array({gate("example.com/quota"), gate("mlnetpol.io/policy-set")}));
    CHECK(after["metadata"]["labels"] == json{{"app", "web"}, {"mlnetpol.io/gated", "true"}});
  }
  SUBCASE("a stale recorded set gates too") {
    lookup.sets["team-a"] = {"old", "new"};
    CHECK_FALSE(handlers.mutate().handle(decode(pod_review("team-a", json::object()))).patch.empty());
  }
}

TEST_CASE("scheduling gate: none when the set is in place, on UPDATE, under audit, offline") {
  mlnetpol::testing::controller_lookup lookup;
  lookup.sets["team-a"] = {"h", "h"};
  policy_handlers handlers(tenant_config(), &lookup);
  const review_response in_place = handlers.mutate().handle(decode(pod_review("team-a", json::object())));
  CHECK(in_place.patch.empty());
  CHECK(in_place.decision == "allowed");

  mlnetpol::testing::controller_lookup absent;
  policy_handlers updates(tenant_config(), &absent);
  CHECK(updates.mutate()
            .handle(decode(pod_review("team-a", json::object(), json::object(), "UPDATE")))
            .patch.empty());
  // Not secured: no gate.
  CHECK(updates.mutate().handle(decode(pod_review("elsewhere", json::object()))).patch.empty());
  absent.labels["team-a"] = {{"mlnetpol.io/enforcement", "audit"}};
  CHECK(updates.mutate().handle(decode(pod_review("team-a", json::object()))).patch.empty());

  policy_handlers offline(tenant_config(), nullptr);  // no controller: nobody would release it
  CHECK(offline.mutate().handle(decode(pod_review("team-a", json::object()))).patch.empty());
}

TEST_CASE("scheduling gate: only mlnetpol (or an admin) removes the gate or touches its label") {
  mlnetpol::testing::controller_lookup lookup;
  policy::config cfg = tenant_config();
  cfg.admin_groups = {"platform-admins"};
  policy_handlers handlers(cfg, &lookup);
  json review = pod_review("team-a", {{"mlnetpol.io/gated", "true"}},
                           {{"schedulingGates", json::array({gate("mlnetpol.io/policy-set")})}},
                           "UPDATE");
  review["request"]["oldObject"] = review["request"]["object"];
  json& object = review["request"]["object"];
  object["spec"]["schedulingGates"] = json::array();
  review["request"]["userInfo"] = {{"username", "system:serviceaccount:team-a:deployer"},
                                   {"groups", json::array({"system:authenticated"})}};
  SUBCASE("a tenant removing the gate is refused, whatever the mode") {
    for (const auto mode : {policy::enforcement_mode::enforce, policy::enforcement_mode::audit}) {
      handlers.update_config([&] {
        auto c = cfg;
        c.enforcement = mode;
        return c;
      }());
      const review_response r = handlers.validate().handle(decode(review));
      CHECK_FALSE(r.allowed);
      CHECK(r.code == 403);
      REQUIRE(r.violations.size() == 1);
      CHECK(r.violations[0].rule == "scheduling-gate");
      CHECK(r.message.find("removes the scheduling gate mlnetpol.io/policy-set") !=
            std::string::npos);
    }
  }
  SUBCASE("a tenant removing the label alone is refused") {
    object["spec"]["schedulingGates"] = json::array({gate("mlnetpol.io/policy-set")});
    object["metadata"]["labels"] = json::object();
    CHECK_FALSE(handlers.validate().handle(decode(review)).allowed);
  }
  SUBCASE("another gate may go") {
    review["request"]["oldObject"]["spec"]["schedulingGates"] =
        json::array({gate("example.com/quota"), gate("mlnetpol.io/policy-set")});
    object["spec"]["schedulingGates"] = json::array({gate("mlnetpol.io/policy-set")});
    CHECK(handlers.validate().handle(decode(review)).allowed);
  }
  SUBCASE("mlnetpol's service account and admins may release it") {
    object["metadata"]["labels"] = json::object();
    review["request"]["userInfo"]["username"] = cfg.service_account;
    CHECK(handlers.validate().handle(decode(review)).allowed);
    review["request"]["userInfo"] = {{"username", "alice"},
                                     {"groups", json::array({"platform-admins"})}};
    CHECK(handlers.validate().handle(decode(review)).allowed);
  }
}

TEST_CASE("the policy-set annotation of a Namespace is mlnetpol's: a tenant cannot forge it") {
  policy::config cfg = tenant_config();
  policy_handlers handlers(cfg);
  json review = namespace_review("team-a", {{"mlnetpol.io/secured", "true"}, {"mlnetpol.io/tenant", "true"}},
                                 false, "UPDATE");
  review["request"]["oldObject"] = review["request"]["object"];
  review["request"]["object"]["metadata"]["annotations"] = {{"mlnetpol.io/policy-set", "0123"}};
  review["request"]["userInfo"] = {{"username", "system:serviceaccount:team-a:admin"},
                                   {"groups", json::array({"system:authenticated"})}};
  const review_response forged = handlers.validate().handle(decode(review));
  CHECK_FALSE(forged.allowed);
  CHECK(forged.message.find("annotation mlnetpol.io/policy-set (added: 0123)") != std::string::npos);
  // On CREATE too (a namespace created "in place" would never gate its first pods).
  json created = review;
  created["request"]["operation"] = "CREATE";
  created["request"].erase("oldObject");
  CHECK_FALSE(handlers.validate().handle(decode(created)).allowed);
  review["request"]["userInfo"]["username"] = cfg.service_account;
  CHECK(handlers.validate().handle(decode(review)).allowed);
}
