#pragma once
// The reconciler as one runnable, composed of its parts: the namespace informer and cache (every
// replica), the watches of the managed objects (managed_index.hpp) and of gated pods
// (gated_pods.hpp), leader election, and on the leader the namespace controller
// (namespace_controller.hpp: the queue and its workers), the keepers and the periodic resync;
// /status is status.hpp's document of their state. Writes go through leader_gated_cluster.hpp.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/admission_policies.hpp"
#include "controller/cluster.hpp"
#include "controller/clusterwide_policy.hpp"
#include "controller/desired_state.hpp"
#include "controller/config_guard.hpp"
#include "controller/event_recorder.hpp"
#include "controller/gated_pods.hpp"
#include "controller/informer.hpp"
#include "controller/leader_election.hpp"
#include "controller/managed_index.hpp"
#include "controller/metrics.hpp"
#include "controller/namespace_cache.hpp"
#include "controller/namespace_controller.hpp"
#include "controller/policy_reporter.hpp"
#include "controller/reconciler.hpp"
#include "controller/status.hpp"
#include "policy/config.hpp"
#include "policy/scheduling_gate.hpp"

namespace mlnetpol::controller {

struct manager_options {
  std::chrono::milliseconds resync_period{std::chrono::minutes(10)};
  leader_election_options election;
  // Reconciles are latency-bound (a few API round trips, each through the webhooks): 8 keep
  // the API server busy when hundreds of namespaces arrive at once; 2 queued them for tens of s.
  unsigned workers = 8;
  informer_options informers;
  backoff_options backoff;
  removal_limits guard;  // a change removing more namespaces' policies than this is held
  // mlnetpol_pods_gated_over_threshold counts pods held by the scheduling gate longer than this.
  std::chrono::seconds gate_alert_after{60};
  // One PolicyReport per secured namespace (controller/policy_reporter.hpp); serve turns it on.
  bool policy_reports = false;
};

class manager {
 public:
  manager(std::unique_ptr<cluster> api, policy::config initial, manager_options options);
  ~manager();
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;

  // Events (optional; before start()): the leader's reconciles report PolicySetApplied and
  // PolicySetFailed through it, and record_event() hands it any other (admission denials).
  void set_event_recorder(std::unique_ptr<event_recorder> events) { events_ = std::move(events); }
  // Queued for writing, never waits on the API server; false when dropped (no recorder, full).
  bool record_event(event_record r) { return events_ && events_->record(std::move(r)); }
  const event_recorder* events() const { return events_.get(); }

  void start();
  // The server began to drain (SIGTERM): take no more work and hand the lease over once the
  // reconcile in hand is done, rather than after the drain; the informers keep the namespace
  // cache the webhooks read until stop(). Returns at once. Idempotent.
  void step_down();
  // Workers finish the reconcile in hand, the leader releases its lease, calls in flight end.
  // Idempotent.
  void stop();

  // A reloaded configuration: every namespace it or the previous one names, every namespace
  // carrying mlnetpol's labels or managed objects is reconciled again. It is proposed, not in
  // force: the leader's next pass checks it against what the cluster holds (config_guard.hpp) and
  // holds it, reconciling with the configuration in force before (none at start-up), when it would
  // remove the policies of too many namespaces, until the Lease's namespace carries
  // mlnetpol.io/confirm-config=<its digest>.
  void update_config(policy::config cfg);

  const namespace_cache& namespaces() const { return cache_; }
  // The namespace's policy set for the scheduling gate: the hash recorded on it (this replica's
  // cache) and the hash of the set this replica renders (the configuration in force, else the one
  // proposed: a follower never puts one in force).
  policy::policy_set_state policy_set_of(std::string_view namespace_name) const;
  // Pods the gated-pod watch holds (tests, /status).
  std::size_t gated_pods() const;
  bool synced() const { return cache_.synced(); }  // readyz
  // True until the renew deadline passes without a successful renew, whatever the election's
  // request in flight is doing.
  bool leader() const;
  controller_metrics& metrics() { return metrics_; }
  // Counts every API request (hand it to k8s::client::set_observer).
  std::function<void(std::string_view, std::string_view)> request_observer();

  // GET /status (controller/status.hpp): the module's outputs, what the cluster holds, the state.
  std::string status_json() const;
  std::string metrics_text() const;

  // Nothing queued, waiting or in progress (tests).
  bool idle() const { return loop_.idle(); }
  std::uint64_t full_syncs() const { return full_syncs_.load(); }
  // Namespaces rendered under the current configuration (tests: each once, then cached).
  std::uint64_t renders() const { return desired()->renders(); }

 private:
  // The configuration in force and its renders; null before the first pass put one in force.
  std::shared_ptr<const desired_state> desired() const;
  // The configuration in force, else the one proposed: what /status shows.
  std::shared_ptr<const desired_state> latest() const;
  // Puts the proposed configuration in force unless the guard holds it; false when it could not be
  // checked (the lists failed), so the pass is retried.
  bool admit_proposed(const std::map<std::string, prelisted>& lists, bool listed);
  bool relevant(const desired_state& desired, const std::string& ns, const label_map* labels) const;
  // The namespace's managed objects as the watches hold them, for a reconcile without list calls;
  // nullopt until both kinds are listed (or the CiliumNetworkPolicy CRD is known missing).
  std::optional<prelisted> from_store(const std::string& ns) const;
  bool store_synced() const;
  // Queues ns when leader, else remembers it for the next pass.
  void enqueue(const std::string& ns);
  // Asks the resync thread for a full pass now (cheap, never blocks: callers include the
  // server's I/O threads on a configuration reload).
  void full_sync(const char* why);
  // One pass: a cluster-wide list per managed kind, then every namespace mlnetpol has business with
  // is queued with its share of that list (so a pass costs a few list calls, not two per
  // namespace).
  bool run_pass(const std::string& why);  // false: retry soon (a proposal could not be checked)
  void end_listing_locked();              // with state_mutex_ held: the pass's lists are taken
  // The namespace controller's view: the pass's list of ns, else what the watches hold.
  namespace_listing listing(const std::string& ns);
  // After a reconcile: the scheduling gate, the full pass's progress.
  void reconciled(const desired_state& want, const std::string& ns, const reconcile_outcome& out,
                  const outcome_handling& handling);
  void on_started_leading();
  void on_stopped_leading(std::string_view why);
  void resync_loop();
  // The confirmation annotation of a held change, read from the Lease's namespace.
  void note_confirmation(const k8s::object_meta& ns);
  void on_namespace_list(std::vector<k8s::object_meta>&& items);
  void on_namespace_event(const k8s::watch_event& e);
  void on_managed_list(const std::string& kind, std::vector<k8s::object_meta>&& items);
  void on_managed_event(const std::string& kind, const k8s::watch_event& e);
  void on_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing);
  void publish_managed();
  bool needs_reconcile(const k8s::watch_event& e);
  // The scheduling gate (policy/scheduling_gate.hpp): the watch of pods labelled gated, and the
  // leader's release of a namespace's pods once its set is in place (or no set applies there any
  // more); while it cannot be stored, a Warning Event on each held pod.
  void on_gated_list(std::vector<k8s::object_meta>&& items);
  void on_gated_event(const k8s::watch_event& e);
  void settle_gates(const desired_state& want, const std::string& ns,
                    const reconcile_outcome& out);
  void publish_gated() const;
  bool wait_for(std::chrono::milliseconds d);  // false when stopping

  std::unique_ptr<cluster> api_;
  // The reconciler writes through it: no write leaves a replica that is no longer leader.
  std::unique_ptr<cluster> leader_writes_;
  manager_options options_;
  namespace_cache cache_;
  mutable controller_metrics metrics_;  // mutable: the leader gauge is set when rendered
  reconciler reconciler_;
  namespace_controller loop_;  // the queue of namespaces and the workers reconciling them
  admission_policy_keeper admission_policies_;  // kept on each full pass (issue 24)
  clusterwide_policy_keeper clusterwide_;       // each full pass and its watch (issue 23)
  leader_election_loop election_;
  std::unique_ptr<event_recorder> events_;

  mutable std::mutex config_mutex_;
  std::shared_ptr<const desired_state> desired_;   // in force (renders and all)
  std::shared_ptr<const desired_state> proposed_;  // not checked against the cluster yet

  std::optional<held_config_change> held_;  // the change the guard holds; guarded by state_mutex_
  std::string confirmed_digest_;  // the confirmation annotation's value; guarded by state_mutex_

  managed_index managed_;  // the managed objects the watches hold

  mutable std::mutex state_mutex_;
  std::set<std::string> full_pending_;
  // Namespaces an event or a relist called for while this replica was not the leader: the pass
  // that follows a new leadership queues them first (a policy deleted during an outage is not
  // repaired after thousands of unchanged namespaces).
  std::set<std::string> missed_;
  std::map<std::string, prelisted> prelisted_;  // a pass's lists, until the namespace's reconcile
  // While a pass lists: the namespaces whose managed objects an event changed meanwhile, and
  // whether a relist replaced the store. Their lists may predate the change: not kept.
  bool pass_listing_ = false;
  bool relisted_while_listing_ = false;
  std::set<std::string> changed_while_listing_;
  std::string pass_request_;                    // why a pass was asked for; "" when none
  bool full_sync_wanted_ = false;               // became leader before the cache synced
  std::string last_full_sync_;
  bool crd_missing_ = false;

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> full_syncs_{0};
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;

  std::unique_ptr<informer> namespace_informer_;
  std::unique_ptr<informer> policy_informer_;
  std::unique_ptr<informer> cilium_informer_;
  std::unique_ptr<informer> gated_informer_;
  gated_pod_index gated_;                      // the pods the scheduling gate holds
  std::unique_ptr<policy_reporter> reporter_;  // null unless options_.policy_reports
  std::thread resync_thread_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace mlnetpol::controller
