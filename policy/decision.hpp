#pragma once
// What the label engine decides for one admission request: plain data the admission layer encodes.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "policy/config.hpp"
#include "policy/mutation.hpp"

namespace mlnetpol::policy {

// allowed: nothing to do; patched: additions to apply; denied: a violation under enforce;
// warned: violations allowed with warnings (warn); audited: would-be patches or denials reported
// only (audit); exempt: an exempt namespace, user or group.
enum class outcome { allowed, patched, denied, warned, audited, exempt };
constexpr std::string_view to_string(outcome o) {
  switch (o) {
    case outcome::allowed:
      return "allowed";
    case outcome::patched:
      return "patched";
    case outcome::denied:
      return "denied";
    case outcome::warned:
      return "warned";
    case outcome::audited:
      return "audited";
    case outcome::exempt:
      return "exempt";
  }
  return "allowed";
}

// Rule names, as in the metric mlnetpol_policy_violations_total{rule}.
inline constexpr std::string_view rule_workload_type_missing = "workload-type-missing";
inline constexpr std::string_view rule_workload_type_not_allowed = "workload-type-not-allowed";
inline constexpr std::string_view rule_host_network = "host-network";
inline constexpr std::string_view rule_managed_policy = "managed-policy";
// A Namespace request that adds, changes or removes an mlnetpol.io label without the right to.
inline constexpr std::string_view rule_namespace_label = "namespace-label";
// A pods/status write that changes the workload label (labels belong to the main resource).
inline constexpr std::string_view rule_label_via_status = "label-via-status";
// A Pod UPDATE that removes mlnetpol's scheduling gate or changes its label without the right to.
inline constexpr std::string_view rule_scheduling_gate = "scheduling-gate";

struct violation {
  std::string_view rule;  // one of the rule_* constants (static): no copy per request
  std::string message;    // full text with the fix, for denials and audit annotations
  std::string summary;    // a short form for warnings (<= 120 characters where names allow)
};
// A request breaks one rule or two: those stay inline, not in an allocation per request.
using violation_list = boost::container::small_vector<violation, 1>;
// A pod's label and its source annotation, or a namespace's few role labels: inline.
using map_entry_list = boost::container::small_vector<map_entry, 2>;

struct decision {
  outcome result = outcome::allowed;
  enforcement_mode mode = enforcement_mode::enforce;  // after the per-namespace override
  bool allowed = true;
  int code = 0;  // 403 when denied
  std::string message;
  violation_list violations;
  map_entry_list additions;  // to patch in; empty under audit
  // Append the policy-set scheduling gate to spec.schedulingGates (a Pod CREATE whose namespace's
  // set is not stored yet); its label is among the additions.
  bool scheduling_gate = false;
  std::vector<std::string> warnings;  // within the API server's limits
  std::vector<std::pair<std::string, std::string>> audit_annotations;  // keys without '/'
  // For the decision log line only: what a refusal is about beyond its rule (the labels).
  std::string detail;
};

}  // namespace mlnetpol::policy
