#pragma once
// One reconcile of one namespace: its labels (every mode) and its managed policy set (enforce and
// warn), converged to what the configuration renders. Level-based: it reads the cluster each time
// and writes only what differs (the spec itself, compared as values), and prunes only after the new
// set is in place. A missing object is created by server-side apply; one that exists and differs
// is replaced whole (PUT at its resourceVersion, managedFields set to our apply's one entry), so no
// field anyone else wrote survives and a deny policy is never deleted to be fixed.
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
#include "controller/desired_state.hpp"
#include "controller/namespace_cache.hpp"
#include "controller/namespace_labels.hpp"
#include "policy/config.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {

// The label selector of every object mlnetpol manages.
std::string managed_selector();
// The merge patch that records hash as the Namespace's policy-set annotation ("" removes it).
std::string policy_set_patch(std::string_view hash);

// --- managed objects ---
struct observed_object {
  std::string kind;  // NetworkPolicy | CiliumNetworkPolicy
  std::string name;
  std::string spec_hash;  // "" when the annotation is missing (edited by hand)
  // Its resourceVersion is not the one our last write returned: someone wrote it since.
  bool edited = false;
  std::string resource_version;
  std::string spec;           // compact JSON, what is compared with the rendered spec
  bool extra_fields = false;  // top-level fields never rendered (a Cilium `specs` list)
  // Who owns fields of its spec, "manager (Operation)", from managedFields; and those of them
  // that are not mlnetpol (a tenant may use its name: only the spec comparison sees through that).
  std::vector<std::string> writers;
  std::vector<std::string> foreign;
};
// What a reconciler knows of a listed or watched object; written_version: our last write's.
observed_object observe(const k8s::object_meta& item, std::string_view kind,
                        std::string_view written_version);
// Exactly the rendered object: same spec (as values; the spec-hash annotation, which anyone can
// write, must match too but proves nothing), no field of another manager, nothing else written.
bool is_rendered(const policy::rendered_object& desired, const observed_object& live);
// Not merely an older rendering: someone else wrote the object (a repair worth an Event).
bool tampered(const policy::rendered_object& desired, const observed_object& live);

struct object_repair {
  const policy::rendered_object* desired;
  observed_object live;
};
struct object_plan {
  std::vector<const policy::rendered_object*> apply;  // missing: created by server-side apply
  std::vector<object_repair> replace;                 // held, but not exactly what is rendered
  std::vector<observed_object> prune;                 // managed but no longer desired
  std::size_t unchanged = 0;
};
// The rendered object for a PUT at resource_version, with managedFields set to our apply's one
// entry (how a repair replaces an object whole).
std::string replacement_body(const policy::rendered_object& d, std::string_view resource_version);

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

// An object replaced because someone else wrote it (repaired) or created it (adopted).
struct object_repair_note {
  std::string kind;
  std::string name;
  bool adopted = false;
  std::vector<std::string> previous_writers;  // "manager (Operation)", from managedFields
};

struct reconcile_outcome {
  reconcile_status status = reconcile_status::ok;
  std::chrono::seconds retry_after{0};
  std::string message;  // what failed, for logs and /status
  std::vector<std::string> causes;
  bool labels_patched = false;
  bool set_recorded = false;  // the policy-set annotation was written (or removed)
  std::size_t applied = 0;
  std::size_t pruned = 0;
  std::size_t unchanged = 0;
  std::size_t would_apply = 0;  // audit
  std::size_t would_prune = 0;  // audit
  std::vector<object_repair_note> repairs;  // among `applied`
  // Managed objects in the namespace once done, by kind (what the cluster holds).
  std::map<std::string, std::size_t> managed;
  std::size_t writes() const {
    return applied + pruned + (labels_patched ? 1 : 0) + (set_recorded ? 1 : 0);
  }
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
  // `desired`: the configuration with its cached renders (the manager keeps one per configuration).
  reconcile_outcome reconcile(const desired_state& desired, const std::string& namespace_name,
                              const prelisted* listed = nullptr, bool cilium_known_missing = false);
  // For one-off calls (tests): indexes and renders cfg afresh.
  reconcile_outcome reconcile(const policy::config& cfg, const std::string& namespace_name,
                              const prelisted* listed = nullptr, bool cilium_known_missing = false) {
    return reconcile(desired_state(cfg), namespace_name, listed, cilium_known_missing);
  }
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
  // True while `listed` (the watches' store) misses one of our writes in the namespace: an object
  // we wrote at another version or not at all, or one we deleted still there.
  bool behind_own_writes(const std::string& namespace_name, const prelisted& listed) const;

  struct written_object {
    std::string version;  // what our last write returned
    bool seen = false;    // its watch event has arrived: the store holds it or something newer
  };

  cluster& api_;
  namespace_cache& namespaces_;
  // The resourceVersion each of our applies returned (in memory: after a restart the spec-hash
  // alone decides, so an unchanged resync stays write-free).
  mutable std::mutex written_mutex_;
  std::map<object_key, written_object> written_;
  std::set<object_key> pruned_;  // deleted by us, until the watch reports it
};

}  // namespace mlnetpol::controller
