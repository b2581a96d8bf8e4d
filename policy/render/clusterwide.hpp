#pragma once
// The one CiliumClusterwideNetworkPolicy mlnetpol keeps in Cilium mode (issue 23): every endpoint
// of a namespace labelled mlnetpol.io/secured=true is default deny but DNS from the moment the
// namespace is admitted (the label is set then), whatever the reconciler's latency. Standard mode
// has no cluster-scoped equivalent in networking.k8s.io/v1: the scheduling gate is the mechanism
// there. Pure: config in, JSON text out.
#include <string_view>
#include <vector>

#include "policy/config.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::policy {

inline constexpr std::string_view clusterwide_policy_api_version = "cilium.io/v2";
inline constexpr std::string_view clusterwide_policy_kind = "CiliumClusterwideNetworkPolicy";
inline constexpr std::string_view clusterwide_policy_name = "mlnetpol-default-deny";

// The policy, or nothing: only when mlnetpol is enabled, in Cilium mode, and the enforcement mode
// applies policies (not audit). Namespaces whose mlnetpol.io/enforcement override is audit are not
// selected (nothing is applied there).
std::vector<rendered_object> render_clusterwide(const config& cfg);

// What `mlnetpol render` prints: the namespaces' policies, then (all namespaces only) the
// cluster-wide one.
std::vector<rendered_object> render_all(const config& cfg, std::string_view only_namespace = {});

}  // namespace mlnetpol::policy
