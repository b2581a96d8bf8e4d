#pragma once
// The managed objects (NetworkPolicies, CiliumNetworkPolicies) as the watches hold them, on every
// replica: a reconcile reads its namespace's share instead of listing it, a relist queues only the
// namespaces whose objects changed, and /status and the metrics count what the cluster holds.
// Thread-safe: the informers write, the workers and /status read.
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/reconciler.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::controller {

// What a reconcile reads of a managed object (reconciler::observe): no labels, only the spec-hash
// annotation, so the index keeps 10,000s.
k8s::object_meta compact(k8s::object_meta meta);

class managed_index {
 public:
  // A (re)list of one kind replaces that kind's entries. Returns the namespaces whose objects of
  // this kind differ from what the index held (added, gone, or at another resourceVersion): the
  // ones their missed watch events would have queued.
  std::vector<std::string> replace(const std::string& kind, std::vector<k8s::object_meta>&& items);
  // One watch event about an object of kind (ADDED/MODIFIED upsert, DELETED erases).
  void apply(const std::string& kind, const k8s::watch_event& e);

  // Listed at least once.
  bool listed(std::string_view kind) const;
  // Both managed kinds listed (or the CiliumNetworkPolicy CRD known missing): the index answers
  // for every namespace.
  bool synced(bool cilium_missing) const;
  // The namespace's objects (meta.kind set), for a reconcile without list calls; nullopt until
  // synced(cilium_missing).
  std::optional<prelisted> objects_of(const std::string& ns, bool cilium_missing) const;
  bool holds(const std::string& ns) const;             // any managed object in ns
  void namespaces(std::set<std::string>& into) const;  // every namespace holding one
  std::map<std::string, std::size_t> counts() const;   // by kind
  std::size_t total() const;

 private:
  using objects = std::map<std::pair<std::string, std::string>, k8s::object_meta>;  // kind, name
  mutable std::mutex mutex_;
  std::map<std::string, objects> by_namespace_;
  std::map<std::string, std::size_t> count_;  // by kind, kept as by_namespace_ changes
  std::set<std::string, std::less<>> listed_;
};

}  // namespace mlnetpol::controller
