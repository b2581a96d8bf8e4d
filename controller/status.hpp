#pragma once
// The GET /status document: the module's outputs for the configuration in force (the same as
// `mlnetpol render --summary`), what the cluster holds, the keepers' states and the reconciler's.
// Pure: the manager gathers a snapshot, this writes it.
//
// `policy_count` has one meaning wherever it appears (render --summary, /status,
// mlnetpol_policies): the network policies the configuration renders, the module's "number of
// policies created". What the cluster holds now, counted by the watches, is
// `managed_policy_count`; `rendered_policy_count` is kept for readers of older versions.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/admission_policies.hpp"
#include "controller/clusterwide_policy.hpp"
#include "controller/config_guard.hpp"
#include "controller/reconcile_results.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {

class policy_reporter;

// A configuration change the guard holds (config_guard.hpp).
struct held_config_change {
  std::string digest;
  removal_check check;
  std::string since;  // RFC 3339, seconds
};

struct controller_status {
  policy::render_summary summary;    // the configuration in force, else the one proposed
  std::size_t managed_policies = 0;  // held in the cluster, every managed kind
  admission_policy_status admission_policies;
  clusterwide_policy_status clusterwide;
  const policy_reporter* reports = nullptr;  // writes `policy_reports` when set
  bool synced = false;
  bool leader = false;
  std::string identity;
  std::string last_full_sync;  // "" before the first
  bool cilium_crd_missing = false;
  std::size_t gated_pods = 0;
  std::vector<std::pair<std::string, std::size_t>> gated;  // by namespace
  std::optional<held_config_change> held;
  std::string confirm_namespace;  // where a held change is confirmed (the Lease's namespace)
  std::map<std::string, std::string> errors;
  std::map<std::string, audit_report> audit;
};

// Lists are cut at 100 entries (gated namespaces, a held change's namespaces): /status stays small
// on a large cluster.
std::string status_json(const controller_status& s);

}  // namespace mlnetpol::controller
