#pragma once
// What already runs, reported: one PolicyReport (policy/policy_report.hpp) per secured namespace
// listing its pods and tenant policies that break mlnetpol's rules, kept current by the leader.
//
// Every replica watches pods, NetworkPolicies and CiliumNetworkPolicies cluster-wide and judges
// each object of a secured namespace as it arrives, keeping only the verdicts of the objects that
// break a rule (a few hundred bytes each): memory grows with the violating objects, not with the
// cluster's pods. An event whose verdict is unchanged (a pod's status update) costs nothing more; a
// changed verdict queues the namespace with a short delay, so a burst of changes writes one report.
// A new configuration in force (and the first pass of a leader) re-judges everything from one
// cluster-wide list per kind, as the reconciler's pass does, not three lists per namespace.
// Reports are written by server-side apply through the leader-gated cluster; a namespace that
// leaves the secured set loses its report (only ours: name `mlnetpol`, mlnetpol's managed-by
// label, seen by a watch of exactly those). Without the PolicyReport CRD nothing is written (logged
// once, watched for with the informer's backoff); metrics and /status still count.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/obs/metrics.hpp"
#include "controller/cluster.hpp"
#include "controller/desired_state.hpp"
#include "controller/informer.hpp"
#include "controller/namespace_cache.hpp"
#include "controller/work_queue.hpp"
#include "policy/policy_report.hpp"

namespace mlnetpol::controller {

struct policy_reporter_options {
  informer_options informers;
  // A namespace's report is written this long after the first change that calls for it.
  std::chrono::milliseconds debounce{1'000};
};

// One object's verdict as the reporter keeps it; std::nullopt: it breaks no rule.
std::optional<policy::report_entry> judge_object(const k8s::resource& r,
                                                 const k8s::object_meta& object,
                                                 const policy::config& cfg);

class policy_reporter {
 public:
  // reads: lists and watches; writes: the leader-gated cluster (refuses when not leader).
  policy_reporter(cluster& reads, cluster& writes, const namespace_cache& namespaces,
                  std::function<bool()> leader, policy_reporter_options options = {});
  ~policy_reporter();
  policy_reporter(const policy_reporter&) = delete;
  policy_reporter& operator=(const policy_reporter&) = delete;

  void start();
  // The worker and informers end (a call in flight ends when the cluster is cancelled); join()
  // waits for them.
  void request_stop();
  void join();

  // A leader's pass under `want`: a configuration new to the reporter is judged again (one
  // cluster-wide list per kind); every secured namespace's report is queued (written when it
  // differs from the last write, always after `leadership_gained`), and every report of a namespace
  // no longer secured is deleted.
  void sync(std::shared_ptr<const desired_state> want, bool leadership_gained);
  // The namespace's labels changed (back to enforce?) or it was deleted: its report is written
  // again, or forgotten.
  void namespace_changed(const std::string& ns);

  void render_metrics(std::string& out) const;
  // `"policy_reports": {...}` of /status: the CRD state and each namespace's counts.
  void write_status(rapidjson::Writer<rapidjson::StringBuffer>& w) const;

 private:
  using object_key = std::pair<std::string, std::string>;  // kind, name
  using verdicts = std::map<object_key, policy::report_entry>;

  void worker_loop();
  void process(const std::string& ns);
  // One cluster-wide list per kind, judged under want (a new configuration); namespaces that saw
  // events meanwhile, or all when a list failed, are judged again from their own lists.
  void relist(const desired_state& want);
  // Lists the namespace's objects and judges them all under want; false when a list failed.
  bool refresh(const std::string& ns, const desired_state& want);
  void write(const std::string& ns);
  void remove(const std::string& ns);
  void later(const std::string& ns) { queue_.add_after(ns, options_.debounce); }
  void on_list(const k8s::resource& r, std::vector<k8s::object_meta>&& items);
  void on_event(const k8s::resource& r, const k8s::watch_event& e);
  void on_report_list(std::vector<k8s::object_meta>&& items);
  void on_report_event(const k8s::watch_event& e);
  void on_error(const k8s::resource& r, const k8s::api_error& e, bool listing);
  void crd_missing_locked(const char* where);  // mutex_ held
  std::vector<std::string> secured_existing(const desired_state& want) const;

  cluster& reads_;
  cluster& writes_;
  const namespace_cache& namespaces_;
  std::function<bool()> leader_;
  policy_reporter_options options_;
  work_queue queue_;

  mutable std::mutex mutex_;
  std::shared_ptr<const desired_state> judged_;         // the configuration the verdicts are under
  std::map<std::string, verdicts> verdicts_;            // namespace -> objects breaking a rule
  std::map<std::string, std::uint64_t> events_;         // namespace -> events seen (refresh races)
  std::set<std::string> stale_;                         // to judge again from a list
  std::optional<std::set<std::string>> touched_;        // namespaces with events during relist()
  std::map<std::string, std::size_t> written_;          // namespace -> digest of our last report
  std::map<std::string, std::string> written_version_;  // its resourceVersion
  std::set<std::string> reports_;                       // namespaces holding our report
  std::set<std::string> pending_;                       // to write once the CRD is served
  bool crd_missing_ = false;

  obs::labeled_counter writes_total_{"result"};

  std::unique_ptr<informer> pods_, policies_, cilium_, report_watch_;
  std::thread worker_;
  bool started_ = false;
};

}  // namespace mlnetpol::controller
