#pragma once
// One reconcile of one namespace: its labels (every mode) and its managed policy set (enforce and
// warn), converged to what the configuration renders. Level-based: it reads the cluster each time
// and writes only what differs (spec-hash), and prunes only after the new set is in place.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "controller/cluster.hpp"
#include "controller/namespace_cache.hpp"
#include "controller/namespace_labels.hpp"
#include "policy/config.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {

// The label selector of every object mlnetpol manages.
std::string managed_selector();

// --- managed objects ---
struct observed_object {
  std::string kind;  // NetworkPolicy | CiliumNetworkPolicy
  std::string name;
  std::string spec_hash;  // "" when the annotation is missing (edited by hand)
  // Someone else wrote its spec: another field manager owns fields under spec, or its
  // resourceVersion is not the one our apply returned. Either way an edit that may have left the
  // spec-hash annotation alone.
  bool edited = false;
};
struct object_plan {
  std::vector<const policy::rendered_object*> apply;  // missing, other spec-hash, or edited
  std::vector<observed_object> prune;                 // managed but no longer desired
  std::size_t unchanged = 0;
};
object_plan plan_objects(const std::vector<policy::rendered_object>& desired,
                         const std::vector<observed_object>& observed);
const k8s::resource& resource_of_kind(std::string_view kind);

// --- one reconcile ---
enum class reconcile_status {
  ok,            // converged (or nothing to do)
  audited,       // labels converged; policies only reported (audit mode)
  absent,        // the namespace does not exist: nothing to do until its watch event
  dropped,       // 404 namespace missing while writing: dropped, its watch event brings it back
  skipped,       // 403 namespace being terminated
  retry,         // throttled, server error, transport, conflict: back off (honour retry_after)
  invalid,       // 422 / typed-patch 500: a renderer bug; counted, not retried hot
  forbidden,     // 403: RBAC must grant `verb` on `resource`
  unauthorized,  // 401: the credentials are refused (no RBAC grant helps)
  crd_missing,   // CiliumNetworkPolicy CRD not installed
};
std::string_view to_string(reconcile_status s);

struct reconcile_outcome {
  reconcile_status status = reconcile_status::ok;
  std::chrono::seconds retry_after{0};
  std::string message;  // what failed, for logs and /status
  std::vector<std::string> causes;
  bool labels_patched = false;
  std::size_t applied = 0;
  std::size_t pruned = 0;
  std::size_t unchanged = 0;
  std::size_t would_apply = 0;  // audit
  std::size_t would_prune = 0;  // audit
  // Managed objects in the namespace once done, by kind (what the cluster holds).
  std::map<std::string, std::size_t> managed;
  std::size_t writes() const { return applied + pruned + (labels_patched ? 1 : 0); }
};

// The managed objects of one namespace, listed beforehand (a full pass lists every namespace's in
// one cluster-wide call per kind); meta.kind is set.
struct prelisted {
  std::vector<k8s::object_meta> objects;
  bool cilium_missing = false;  // the CiliumNetworkPolicy list answered crd_missing
};

class reconciler {
 public:
  reconciler(cluster& api, namespace_cache& namespaces) : api_(api), namespaces_(namespaces) {}
  // Thread-safe for different namespaces (the queue never hands one namespace to two workers).
  // `listed`: the namespace's managed objects as a full pass listed them (no list calls then);
  // `cilium_known_missing`: skip listing CiliumNetworkPolicies unless some are desired.
  reconcile_outcome reconcile(const policy::config& cfg, const std::string& namespace_name,
                              const prelisted* listed = nullptr, bool cilium_known_missing = false);
  // A watch event about an object our own last write produced (an apply that returned this
  // resourceVersion, or our delete): nothing to reconcile. Consumes the record of a delete.
  bool own_write(const k8s::watch_event& e);
  // The resourceVersion our last apply of the object returned; "" when unknown.
  std::string written_version(std::string_view ns, std::string_view kind,
                              std::string_view name) const {
    return written_version({std::string(ns), std::string(kind), std::string(name)});
  }

 private:
  using object_key = std::tuple<std::string, std::string, std::string>;  // namespace, kind, name
  std::string written_version(const object_key& key) const;
  void set_written_version(const object_key& key, std::string version);

  cluster& api_;
  namespace_cache& namespaces_;
  // The resourceVersion each of our applies returned (in memory: after a restart the spec-hash
  // alone decides, so an unchanged resync stays write-free).
  mutable std::mutex written_mutex_;
  std::map<object_key, std::string> written_;
  std::set<object_key> pruned_;  // deleted by us, until the watch reports it
};

}  // namespace mlnetpol::controller
