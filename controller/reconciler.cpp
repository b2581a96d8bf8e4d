#include "controller/reconciler.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "controller/api_failures.hpp"
#include "policy/engine.hpp"

namespace mlnetpol::controller {
namespace {

std::string str(std::string_view s) {
  return std::string(s);
}

// The failure of one call, as what the worker does about it.
reconcile_outcome failed(const k8s::api_error& e, std::string_view verb, std::string_view what) {
  reconcile_outcome out;
  switch (e.kind) {
    case k8s::failure_kind::not_found:
      out.status = reconcile_status::dropped;
      break;
    case k8s::failure_kind::namespace_terminating:
      out.status = reconcile_status::skipped;
      break;
    case k8s::failure_kind::forbidden:
      out.status = reconcile_status::forbidden;
      break;
    case k8s::failure_kind::unauthorized:
      out.status = reconcile_status::unauthorized;
      break;
    case k8s::failure_kind::invalid:
      out.status = reconcile_status::invalid;
      break;
    case k8s::failure_kind::crd_missing:
      out.status = reconcile_status::crd_missing;
      break;
    default:
      out.status = reconcile_status::retry;
      break;
  }
  out.retry_after = e.retry_after;
  out.causes = e.causes;
  out.message = str(verb) + " " + str(what) + ": " + (e.message.empty() ? "failed" : e.message);
  if (out.status == reconcile_status::forbidden) {
    // Name the grant: an apply that creates the object is authorized as create as well.
    out.message = "RBAC must grant " + str(verb == "apply" ? "create, patch" : verb) + " on " +
                  str(what) + " (" + out.message + ")";
  } else if (out.status == reconcile_status::unauthorized) {
    out.message = str(authentication_failed) + " (" + out.message + ")";
  }
  if (e.status != 0) out.message += " (HTTP " + std::to_string(e.status) + ")";
  return out;
}

std::string rbac_name(const k8s::resource& r) {
  return r.group.empty() ? str(r.plural) : str(r.plural) + "." + str(r.group);
}

}  // namespace

std::string managed_selector() {
  return std::string(policy::managed_by_label) + "=" + std::string(policy::managed_by_value);
}

const k8s::resource& resource_of_kind(std::string_view kind) {
  return kind == k8s::cilium_network_policies.kind ? k8s::cilium_network_policies
                                                   : k8s::network_policies;
}

object_plan plan_objects(const std::vector<policy::rendered_object>& desired,
                         const std::vector<observed_object>& observed) {
  object_plan plan;
  std::map<std::pair<std::string_view, std::string_view>, const observed_object*> have;
  for (const auto& o : observed) have[{o.kind, o.name}] = &o;
  std::set<std::pair<std::string_view, std::string_view>> wanted;
  for (const auto& d : desired) {
    wanted.insert({d.kind, d.name});
    const auto it = have.find({d.kind, d.name});
    if (it != have.end() && !d.spec_hash.empty() && it->second->spec_hash == d.spec_hash &&
        !it->second->edited) {
      ++plan.unchanged;
    } else {
      plan.apply.push_back(&d);
    }
  }
  for (const auto& o : observed) {
    if (!wanted.contains({o.kind, o.name})) plan.prune.push_back(o);
  }
  return plan;
}

bool reconciler::own_write(const k8s::watch_event& e) {
  const object_key key{e.object.namespace_name, e.object.kind, e.object.name};
  std::lock_guard lock(written_mutex_);
  if (e.event_type == k8s::watch_event::type::deleted) return pruned_.erase(key) == 1;
  const auto it = written_.find(key);
  return it != written_.end() && it->second == e.object.resource_version;
}

std::string reconciler::written_version(const object_key& key) const {
  std::lock_guard lock(written_mutex_);
  const auto it = written_.find(key);
  return it == written_.end() ? std::string() : it->second;
}

void reconciler::set_written_version(const object_key& key, std::string version) {
  std::lock_guard lock(written_mutex_);
  if (version.empty()) {
    written_.erase(key);
  } else {
    written_[key] = std::move(version);
  }
}

std::string_view to_string(reconcile_status s) {
  switch (s) {
    case reconcile_status::ok:
      return "ok";
    case reconcile_status::audited:
      return "audited";
    case reconcile_status::absent:
      return "absent";
    case reconcile_status::dropped:
      return "dropped";
    case reconcile_status::skipped:
      return "skipped";
    case reconcile_status::retry:
      return "retry";
    case reconcile_status::invalid:
      return "invalid";
    case reconcile_status::forbidden:
      return "forbidden";
    case reconcile_status::unauthorized:
      return "unauthorized";
    case reconcile_status::crd_missing:
      return "crd_missing";
  }
  return "ok";
}

reconcile_outcome reconciler::reconcile(const policy::config& cfg,
                                        const std::string& namespace_name, const prelisted* listed,
                                        bool cilium_known_missing) {
  const auto labels = namespaces_.labels_of(namespace_name);
  if (!labels) {
    // Not in the synced cache: the namespace does not exist (its ADDED event queues it again).
    reconcile_outcome out;
    out.status = reconcile_status::absent;
    return out;
  }

  reconcile_outcome out;
  // 1. Labels, in every mode: they are what the webhooks select on.
  const label_changes changes = namespace_label_changes(cfg, namespace_name, *labels);
  if (!changes.empty()) {
    auto patched = api_.merge_patch(k8s::namespaces, "", namespace_name, changes.merge_patch());
    if (!patched) return failed(patched.error(), "patch", "namespaces");
    out.labels_patched = true;
    namespaces_.upsert(namespace_name, patched->labels);
  }

  // 2. What the cluster holds, managed objects only (never anything without the label).
  const std::vector<policy::rendered_object> desired = policy::render_policies(cfg, namespace_name);
  std::vector<observed_object> observed;
  auto observe = [&](const k8s::object_meta& item, std::string_view kind) {
    const auto hash = item.annotations.find(std::string(policy::spec_hash_annotation));
    const std::string written = written_version({namespace_name, str(kind), item.name});
    // managedFields survive our restarts, the resourceVersions we remember do not.
    const bool foreign_spec =
        std::any_of(item.spec_managers.begin(), item.spec_managers.end(),
                    [](const std::string& m) { return m != k8s::field_manager_name; });
    observed.push_back({str(kind), item.name,
                        hash == item.annotations.end() ? std::string() : hash->second,
                        foreign_spec || (!written.empty() && written != item.resource_version)});
  };
  bool cilium_missing = false;
  if (listed != nullptr) {
    for (const auto& item : listed->objects) observe(item, item.kind);
    cilium_missing = listed->cilium_missing;
  } else {
    const bool wants_cilium =
        std::any_of(desired.begin(), desired.end(), [](const policy::rendered_object& d) {
          return d.kind == k8s::cilium_network_policies.kind;
        });
    const std::string selector = managed_selector();
    for (const k8s::resource* r : {&k8s::network_policies, &k8s::cilium_network_policies}) {
      // Without the CRD no such object can exist: a list would only answer 404 again.
      if (r == &k8s::cilium_network_policies && cilium_known_missing && !wants_cilium) {
        cilium_missing = true;
        continue;
      }
      auto page = api_.list_all(*r, namespace_name, selector);
      if (!page) {
        if (page.error().kind == k8s::failure_kind::crd_missing) {
          cilium_missing = true;  // nothing of that kind can exist; only wanting one is an error
          continue;
        }
        return failed(page.error(), "list", rbac_name(*r));
      }
      for (const auto& item : page->items) observe(item, r->kind);
    }
  }
  const object_plan plan = plan_objects(desired, observed);
  out.unchanged = plan.unchanged;
  for (const auto& o : observed) ++out.managed[o.kind];

  // 3. Audit applies nothing and deletes nothing; it reports.
  const auto mode = policy::effective_mode(cfg, labels.get(), namespace_name, nullptr);
  if (mode == policy::enforcement_mode::audit) {
    out.status = reconcile_status::audited;
    out.would_apply = plan.apply.size();
    out.would_prune = plan.prune.size();
    return out;
  }

  // 4. The new set first ...
  for (const policy::rendered_object* d : plan.apply) {
    const k8s::resource& r = resource_of_kind(d->kind);
    if (&r == &k8s::cilium_network_policies && cilium_missing) {
      reconcile_outcome missing;
      missing.status = reconcile_status::crd_missing;
      missing.managed = out.managed;
      missing.message = "apply " + rbac_name(r) + ": the CiliumNetworkPolicy CRD is not installed";
      return missing;
    }
    auto applied = api_.apply(r, namespace_name, d->name, d->json);
    if (!applied) {
      auto f = failed(applied.error(), "apply", rbac_name(r));
      f.managed = out.managed;
      f.applied = out.applied;
      return f;
    }
    ++out.applied;
    set_written_version({namespace_name, d->kind, d->name}, applied->resource_version);
    const bool existed = std::any_of(observed.begin(), observed.end(), [&](const auto& o) {
      return o.kind == d->kind && o.name == d->name;
    });
    if (!existed) ++out.managed[d->kind];
  }
  // 5. ... then what is no longer desired, so a switch never leaves the namespace without deny.
  for (const observed_object& o : plan.prune) {
    const k8s::resource& r = resource_of_kind(o.kind);
    auto removed = api_.remove(r, namespace_name, o.name);
    if (!removed && removed.error().kind != k8s::failure_kind::not_found) {
      auto f = failed(removed.error(), "delete", rbac_name(r));
      f.managed = out.managed;
      f.applied = out.applied;
      return f;
    }
    ++out.pruned;
    set_written_version({namespace_name, o.kind, o.name}, {});
    if (removed) {
      std::lock_guard lock(written_mutex_);
      pruned_.insert({namespace_name, o.kind, o.name});
    }
    if (--out.managed[o.kind] == 0) out.managed.erase(o.kind);
  }
  out.status = reconcile_status::ok;
  return out;
}

}  // namespace mlnetpol::controller
