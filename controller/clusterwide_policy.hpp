#pragma once
// Keeps the one CiliumClusterwideNetworkPolicy (policy/render/clusterwide.hpp) in the cluster:
// default deny but DNS for every endpoint of a secured namespace from its admission on, whatever
// the reconciler's latency (issue 23). The leader's full pass syncs it, and so does a watch of it
// (every replica watches; only the leader writes): an edit is replaced whole, a delete recreated, a
// switch to standard mode or audit deletes it. Without the CRD: one log line, the status says so,
// nothing retried until the watch sees the CRD (or the next pass); pods stay gated meanwhile.
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/cluster.hpp"
#include "controller/informer.hpp"
#include "controller/sync_status.hpp"
#include "policy/config.hpp"

namespace mlnetpol::controller {

// state: "unknown" (no pass yet), "in_place" (rendered and held), "absent" (none rendered: standard
// mode, audit, disabled; none held), "crd_missing" (rendered, the CRD is not installed) or
// "error" (message says why).
struct clusterwide_policy_status : sync_status {};

class clusterwide_policy_keeper {
 public:
  // api: reads and the watch; writes: the leader-gated cluster; leader: whether a watch event is
  // this replica's to act on.
  clusterwide_policy_keeper(cluster& api, cluster& writes, std::function<bool()> leader,
                            informer_options options = {});
  ~clusterwide_policy_keeper();
  clusterwide_policy_keeper(const clusterwide_policy_keeper&) = delete;
  clusterwide_policy_keeper& operator=(const clusterwide_policy_keeper&) = delete;

  void start();  // the watch
  void request_stop();
  void join();

  // One sync (a list, and a write when it differs); the configuration is kept for the syncs the
  // watch asks for. Serialised.
  clusterwide_policy_status sync(const policy::config& cfg);
  clusterwide_policy_status status() const;

 private:
  void on_list(std::vector<k8s::object_meta>&& items);
  void on_event(const k8s::watch_event& e);
  void on_error(const k8s::api_error& e, bool listing);
  void resync();  // with the last configuration, when leader

  cluster& writes_;
  std::function<bool()> leader_;
  std::unique_ptr<informer> informer_;
  std::mutex sync_mutex_;  // one sync at a time (the full pass and the watch)
  mutable std::mutex mutex_;
  std::optional<policy::config> cfg_;
  status_cell<clusterwide_policy_status> status_;
  std::string written_;  // the resourceVersion our last write returned (an edit since changes it)
};

}  // namespace mlnetpol::controller
