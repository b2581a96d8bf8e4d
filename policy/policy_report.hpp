#pragma once
// What already runs, judged: the pods and tenant policies of one secured namespace that break the
// rules, as one PolicyReport (wgpolicyk8s.io/v1alpha2). Pure: objects in, findings and report JSON
// out. The rules are not restated here: a pod is judged by the label engine's validate() (as if it
// were created now) and a tenant policy by check_tenant_policy(), the webhook's own rules.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/config.hpp"
#include "policy/decision.hpp"
#include "policy/guardrails.hpp"

namespace mlnetpol::policy {

// metadata.name of the one report per namespace, and the results' source.
inline constexpr std::string_view policy_report_name = "mlnetpol";
inline constexpr std::string_view policy_report_source = "mlnetpol";
inline constexpr std::string_view policy_report_api_version = "wgpolicyk8s.io/v1alpha2";
// The results' policy names: which set of rules judged the object.
inline constexpr std::string_view report_policy_pods = "mlnetpol-pod-rules";
inline constexpr std::string_view report_policy_tenant = "mlnetpol-tenant-policy-guardrails";
// Set on a report that lists fewer results than objects found (its value: how many were left out).
inline constexpr std::string_view results_omitted_annotation = "mlnetpol.io/results-omitted";

// Caps that keep a report far below etcd's 1.5 MiB object limit whatever the namespace holds.
inline constexpr std::size_t report_max_results = 1000;
inline constexpr std::size_t report_max_bytes = 512 * 1024;  // the serialized results
inline constexpr std::size_t report_max_message = 1024;      // one result's message

// One object that breaks at least one rule.
struct report_entry {
  std::string_view policy;  // report_policy_pods or report_policy_tenant
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  violation_list violations;  // at least one
  finding_severity severity = finding_severity::high;
};

struct namespace_findings {
  std::string namespace_name;
  std::vector<report_entry> entries;  // every object found, in the order judged
  std::size_t pods = 0;               // entries about pods
  std::size_t tenant_policies = 0;    // entries about tenant policies
};

// Judges one pod (an item of a pod list) under cfg in findings.namespace_name, as validate() would
// judge its creation by an ordinary user; adds an entry when it breaks a rule.
void judge_pod(const rapidjson::Value& pod, const config& cfg, namespace_findings& findings);

// Judges one NetworkPolicy/CiliumNetworkPolicy of the namespace with the tenant-policy guardrails;
// mlnetpol's own policies (managed-by mlnetpol) are not tenant policies and are skipped.
void judge_tenant_policy(tenant_policy_kind kind, const rapidjson::Value& policy,
                         namespace_findings& findings);

struct policy_report {
  std::string json;         // the whole PolicyReport object, for a server-side apply
  std::size_t listed = 0;   // results in the report (= summary.fail)
  std::size_t omitted = 0;  // entries left out by the caps
};

// The report of findings: one result per entry (every rule it breaks in one result), summary
// counting exactly the results listed, capped by report_max_results/report_max_bytes.
policy_report build_policy_report(const namespace_findings& findings);

}  // namespace mlnetpol::policy
