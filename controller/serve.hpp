#pragma once
// What `mlnetpol serve` needs from the controller, in a few calls: its flags, and a reconciler
// started when there is cluster access (else admission-only, said in one log line).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/result.hpp"
#include "controller/manager.hpp"
#include "k8s/client.hpp"
#include "policy/config.hpp"

namespace mlnetpol::controller {

struct serve_flags {
  std::string kubeconfig;  // empty: in-cluster, when in a pod
  bool reconcile = true;
  bool events = true;  // Kubernetes Events on denials and on policy sets applied or failing
  std::chrono::milliseconds resync_period{std::chrono::minutes(10)};
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
  removal_limits prune_guard;  // --prune-guard-percent, --prune-guard-namespaces
};

// The deadline of every non-watch request of the reconciler's client: shorter than the renew
// deadline (a renew that hangs ends in time for another attempt) and than what the lease outlives
// it by (a write sent just before leadership ended is over before a standby can take over).
std::chrono::milliseconds request_deadline(const serve_flags& flags);

// The reconciler's flags on serve's one parser: --kubeconfig FILE, --reconcile[=true|false],
// --events[=true|false],
// --resync-period 10m, --leader-elect-lease-duration 15s, --leader-elect-renew-deadline 10s,
// --leader-elect-retry-period 2s, --prune-guard-percent 10, --prune-guard-namespaces 50. check()
// after parsing: the leader-election timing rules.
void declare(flags::parser& p, serve_flags& flags);
result<void> check(const serve_flags& flags);
std::string serve_flags_usage();

// Starts the reconciler (namespace cache, managed-object watches, leader election, workers) with
// the given configuration on the cluster access the command loaded (k8s::load_rest_config). Null
// when reconciling is off or there is no cluster access (nullopt: no --kubeconfig and not in a
// pod): then one log line says serve runs admission-only.
std::unique_ptr<manager> start_reconciler(const serve_flags& flags,
                                          std::optional<k8s::rest_config> rest,
                                          policy::config initial);

// The same, not started yet: for a serve that must hand the namespace cache
// (manager::namespaces(), a policy::namespace_lookup) to the label webhook before the
// configuration is loaded. Call update_config() with the loaded configuration, then start().
std::unique_ptr<manager> make_reconciler(const serve_flags& flags,
                                         std::optional<k8s::rest_config> rest);

}  // namespace mlnetpol::controller
