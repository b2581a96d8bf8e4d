#pragma once
// The pods the scheduling gate holds (policy/scheduling_gate.hpp), as the watch of pods labelled
// gated sees them on every replica: namespace -> pod -> where the gate sits in its spec and since
// when this replica saw it gated. The leader's reconcile of a namespace releases its pods.
// Thread-safe: the informer writes, the workers and /status read.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "k8s/client.hpp"

namespace mlnetpol::controller {

class gated_pod_index {
 public:
  using clock = std::chrono::steady_clock;
  struct pod {
    std::string spec;         // compact JSON: where the gate sits in spec.schedulingGates
    clock::time_point since;  // first seen gated by this replica
  };

  // A (re)list replaces every entry, keeping when each pod was first seen; returns the
  // namespaces listed.
  std::set<std::string> replace(std::vector<k8s::object_meta>&& items, clock::time_point now);
  // One watch event; true when the pod is gated (a DELETED event, or one without the label: a
  // label-selected watch reports a removed label as DELETED, ends its entry).
  bool apply(const k8s::watch_event& e, clock::time_point now);
  // A pod released (or gone): its entry goes.
  void erase(const std::string& ns, const std::string& name);

  std::vector<std::pair<std::string, pod>> pods_of(const std::string& ns) const;
  std::size_t size() const;
  std::size_t held_longer_than(clock::duration d, clock::time_point now) const;
  void namespaces(std::set<std::string>& into) const;
  // Pods by namespace, the first `most` namespaces.
  std::vector<std::pair<std::string, std::size_t>> by_namespace(std::size_t most) const;

 private:
  std::size_t size_locked() const;

  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, pod>> pods_;
};

}  // namespace mlnetpol::controller
