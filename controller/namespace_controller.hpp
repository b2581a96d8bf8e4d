#pragma once
// The per-namespace reconcile loop: a work queue of namespace names (deduplicated, backed off per
// name) and the workers that reconcile each one (reconciler.hpp), handle its outcome the one way
// reconcile_results.hpp says, log it, report it in Events and keep it for /status. Only the leader
// reconciles; the manager composes it (what is desired, who leads, what a namespace's managed
// objects were listed as, what follows a reconcile).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/desired_state.hpp"
#include "controller/event_recorder.hpp"
#include "controller/metrics.hpp"
#include "controller/reconcile_results.hpp"
#include "controller/reconciler.hpp"
#include "controller/work_queue.hpp"

namespace mlnetpol::controller {

// A namespace's managed objects as listed beforehand (a full pass's list, else what the watches
// hold; nullopt: the reconcile lists them), and whether the CiliumNetworkPolicy CRD is known
// missing.
struct namespace_listing {
  std::optional<prelisted> objects;
  bool cilium_known_missing = false;
};

struct namespace_controller_hooks {
  std::function<std::shared_ptr<const desired_state>()> desired;  // null: nothing in force
  std::function<bool()> leader;
  std::function<namespace_listing(const std::string& ns)> listing;
  // After each reconcile the leader finished (outcome recorded): the scheduling gate's release,
  // a full pass's progress.
  std::function<void(const desired_state&, const std::string& ns, const reconcile_outcome&,
                     const outcome_handling&)>
      reconciled;
};

class namespace_controller {
 public:
  namespace_controller(reconciler& reconciles, controller_metrics& metrics, backoff_options backoff,
                       namespace_controller_hooks hooks);
  ~namespace_controller();
  namespace_controller(const namespace_controller&) = delete;
  namespace_controller& operator=(const namespace_controller&) = delete;

  // events: PolicySetApplied, PolicySetFailed, PolicyRepaired (may be null).
  void start(unsigned workers, event_recorder* events);
  // Takes no more work: the workers finish the reconcile in hand and end. Returns at once.
  void shutdown();
  void join();
  // Waits at most d for the workers to end (the next leader starts after their last write).
  void wait_for_workers(std::chrono::milliseconds d);

  void add(const std::string& ns) { queue_.add(ns); }
  bool idle() const { return queue_.idle(); }  // nothing queued, waiting or in progress
  const reconcile_results& results() const { return results_; }
  void forget(const std::string& ns) { results_.forget(ns); }  // the namespace is gone

 private:
  void worker_loop();
  void process(const std::string& ns);
  void report(const std::string& ns, const reconcile_outcome& out, const outcome_handling& h,
              double seconds);

  reconciler& reconciles_;
  controller_metrics& metrics_;
  work_queue queue_;
  reconcile_results results_;
  namespace_controller_hooks hooks_;
  event_recorder* events_ = nullptr;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable ended_;
  unsigned running_ = 0;  // guarded by mutex_
};

}  // namespace mlnetpol::controller
