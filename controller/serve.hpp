#pragma once
// The reconciler `mlnetpol serve` runs, built from a plain options struct: the flags that fill it,
// their usage text and the cluster access are app/'s (app/reconciler_runnable.hpp).
#include <chrono>
#include <memory>

#include "controller/manager.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::controller {

struct reconciler_options {
  // Resync period, election timings and prune guard, with their defaults there.
  manager_options manager;
  bool events = true;  // Kubernetes Events on denials and on policy sets applied or failing
};

// The deadline of every non-watch request of the reconciler's client: shorter than the renew
// deadline (a renew that hangs ends in time for another attempt) and than what the lease outlives
// it by (a write sent just before leadership ended is over before a standby can take over).
std::chrono::milliseconds request_deadline(const leader_election_options& election);

// The reconciler (namespace cache, managed-object watches, leader election, workers) on the
// cluster access the command loaded (k8s::load_rest_config), not started yet: a serve hands the
// namespace cache (manager::namespaces()) to the label webhook before the configuration is
// loaded. Call update_config() with the loaded configuration, then start(). This replica's
// identity and the Lease's namespace come from the pod (default_identity(),
// default_lease_namespace()); PolicyReports are on.
std::unique_ptr<manager> make_reconciler(reconciler_options options, k8s::rest_config rest);

}  // namespace mlnetpol::controller
