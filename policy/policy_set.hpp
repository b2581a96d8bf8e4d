#pragma once
// The names that tie the scheduling gate (issue 23) to the admission policies that hold while
// mlnetpol is down (issue 24): the webhook gates, the reconciler records, the policies check.
#include <string_view>

namespace mlnetpol::policy {

// Namespace annotation the leader writes once every object of the namespace's set is stored; its
// value is the hash of the set. Only mlnetpol's service account may write it.
inline constexpr std::string_view policy_set_annotation = "mlnetpol.io/policy-set";
// Scheduling gate added to a Pod created before its namespace's set is in place.
inline constexpr std::string_view policy_set_gate = "mlnetpol.io/policy-set";
// Label added with the gate and removed with it, so the leader finds gated pods by selector.
inline constexpr std::string_view policy_set_gated_label = "mlnetpol.io/gated";

}  // namespace mlnetpol::policy
