#pragma once
// Keeps the label rules' ValidatingAdmissionPolicies and bindings (policy/render/
// admission_policies.hpp) in the cluster, so they hold while every replica is down (issue 24).
// Each full pass of the leader: discovery picks admissionregistration.k8s.io/v1 when it serves
// validatingadmissionpolicies (1.30+), else v1beta1 (1.28-1.29 with the feature gate), else none
// (one log line, /status says so, nothing retried before the next pass); then the managed objects
// are listed, missing ones created by server-side apply, differing ones replaced whole, and the
// ones no longer rendered deleted, as the reconciler does with NetworkPolicies.
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "controller/cluster.hpp"
#include "controller/sync_status.hpp"
#include "policy/config.hpp"

namespace mlnetpol::controller {

// state: "unknown" (no pass yet), "served" (api_version set), "unavailable" (the API server serves
// neither version: the webhooks are the only enforcement) or "error" (message says why).
struct admission_policy_status : sync_status {
  std::string api_version;  // admissionregistration.k8s.io/v1 | .../v1beta1
  std::size_t objects = 0;  // policies and bindings rendered (and, after a clean pass, held)
};

class admission_policy_keeper {
 public:
  // api: the leader-gated cluster (its writes fail once leadership is lost).
  explicit admission_policy_keeper(cluster& api) : api_(api) {}
  // One pass; blocking, a few calls. Called by the leader's full pass only (never concurrently).
  admission_policy_status sync(const policy::config& cfg);
  admission_policy_status status() const;

 private:
  cluster& api_;
  mutable std::mutex mutex_;  // written_
  status_cell<admission_policy_status> status_;
  // kind/name -> the resourceVersion our last write returned (an edit since changes it).
  std::map<std::string, std::string> written_;
};

}  // namespace mlnetpol::controller
