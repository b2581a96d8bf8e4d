#include "controller/status.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace mlnetpol;
using namespace mlnetpol::controller;
using json = nlohmann::json;

TEST_CASE("status: policy_count is what the configuration renders, as render --summary says") {
  controller_status s;
  s.summary.secured_namespaces = {"monitoring", "team-a"};
  s.summary.cilium_mode_enabled = true;
  s.summary.policy_count = 9;
  s.managed_policies = 4;  // the cluster holds fewer (a reconcile still running)
  const json doc = json::parse(status_json(s));
  // The module's outputs, the same keys and values as policy::summary_json.
  const json summary = json::parse(policy::summary_json(s.summary));
  for (const auto& [key, value] : summary.items()) CHECK_MESSAGE(doc.at(key) == value, key);
  CHECK(doc.at("policy_count") == 9);
  CHECK(doc.at("managed_policy_count") == 4);
  CHECK(doc.at("rendered_policy_count") == 9);  // kept for readers of older versions
}

TEST_CASE("status: the keepers' and the reconciler's state") {
  controller_status s;
  s.admission_policies.state = "served";
  s.admission_policies.api_version = "admissionregistration.k8s.io/v1";
  s.admission_policies.objects = 6;
  s.clusterwide.state = "crd_missing";
  s.clusterwide.message = "not installed";
  s.synced = true;
  s.leader = true;
  s.identity = "pod-a";
  s.errors = {{"a", "forbidden: RBAC must grant create"}};
  s.audit = {{"t", audit_report{3, 1}}};
  json doc = json::parse(status_json(s));
  CHECK(doc.at("admission_policies") == json::parse(R"({"state":"served",
      "api_version":"admissionregistration.k8s.io/v1","message":"","objects":6})"));
  CHECK(doc.at("clusterwide_policy").at("state") == "crd_missing");
  CHECK(doc.at("clusterwide_policy").at("message") == "not installed");
  CHECK_FALSE(doc.contains("policy_reports"));  // only with a reporter
  const json& r = doc.at("reconciler");
  CHECK(r.at("synced") == true);
  CHECK(r.at("leader") == true);
  CHECK(r.at("identity") == "pod-a");
  CHECK(r.at("last_full_sync").is_null());
  CHECK(r.at("config_change_held").is_null());
  CHECK(r.at("errors") == json{{"a", "forbidden: RBAC must grant create"}});
  CHECK(r.at("audit") == json::parse(R"({"t":{"would_apply":3,"would_prune":1}})"));

  s.last_full_sync = "2026-01-02T03:04:05Z";
  doc = json::parse(status_json(s));
  CHECK(doc.at("reconciler").at("last_full_sync") == "2026-01-02T03:04:05Z");
}

TEST_CASE("status: long lists are cut at 100 entries, their totals are not") {
  controller_status s;
  s.gated_pods = 250;
  held_config_change held;
  held.digest = "d1";
  held.since = "2026-01-02T03:04:05Z";
  held.check.holding = 200;
  held.check.allowed = 10;
  for (int i = 0; i < 150; ++i) {
    const std::string ns = "ns-" + std::to_string(1000 + i);
    s.gated.emplace_back(ns, 1);
    held.check.removed.push_back(ns);
  }
  s.held = held;
  s.confirm_namespace = "mlnetpol-system";
  const json doc = json::parse(status_json(s));
  const json& r = doc.at("reconciler");
  CHECK(r.at("gated_pods") == 250);
  CHECK(r.at("gated").size() == 100);
  const json& h = r.at("config_change_held");
  CHECK(h.at("digest") == "d1");
  CHECK(h.at("namespaces_losing_policies") == 150);
  CHECK(h.at("namespaces_holding_policies") == 200);
  CHECK(h.at("allowed") == 10);
  CHECK(h.at("namespaces").size() == 100);
  CHECK(h.at("confirm") == confirm_command("mlnetpol-system", "d1"));
}
