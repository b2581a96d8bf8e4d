#include "controller/reconciler.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "controller/api_failures.hpp"
#include "policy/engine.hpp"
#include "policy/policy_set.hpp"
#include "policy/render/compare.hpp"

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

}  // namespace

// The rendered object for a PUT at resource_version: the whole object as rendered (every label,
// annotation and spec field anyone else added goes), with managedFields set to the one entry our
// own apply of it would leave, so no other manager keeps a claim on a field. (Not the reset
// `[{}]`: after it the API server records no later Update, and the next edit would name nobody.)
std::string replacement_body(const policy::rendered_object& d, std::string_view resource_version) {
  rapidjson::Document doc;
  doc.Parse(d.json.data(), d.json.size());
  auto& a = doc.GetAllocator();
  auto& metadata = doc["metadata"];
  auto text = [&](std::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  // {"f:<key>":{}} for each member of an object: ownership of each (lists and selectors whole).
  auto owned = [&](const rapidjson::Value& object) {
    rapidjson::Value fields(rapidjson::kObjectType);
    for (const auto& m : object.GetObject()) {
      fields.AddMember(text("f:" + std::string(m.name.GetString(), m.name.GetStringLength())),
                       rapidjson::Value(rapidjson::kObjectType), a);
    }
    return fields;
  };
  rapidjson::Value meta_fields(rapidjson::kObjectType);
  for (const char* map : {"labels", "annotations"}) {
    if (metadata.HasMember(map)) {
      meta_fields.AddMember(text("f:" + std::string(map)), owned(metadata[map]), a);
    }
  }
  rapidjson::Value fields(rapidjson::kObjectType);
  fields.AddMember("f:metadata", meta_fields, a);
  fields.AddMember("f:spec", owned(doc["spec"]), a);
  rapidjson::Value entry(rapidjson::kObjectType);
  entry.AddMember("manager", text(k8s::field_manager_name), a);
  entry.AddMember("operation", "Apply", a);
  entry.AddMember("apiVersion", text(d.api_version), a);
  entry.AddMember("fieldsType", "FieldsV1", a);
  entry.AddMember("fieldsV1", fields, a);
  rapidjson::Value managed(rapidjson::kArrayType);
  managed.PushBack(entry, a);
  metadata.AddMember("resourceVersion", text(resource_version), a);
  metadata.AddMember("managedFields", managed, a);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string policy_set_patch(std::string_view hash) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("annotations");
  w.StartObject();
  w.Key(policy::policy_set_annotation.data(),
        static_cast<rapidjson::SizeType>(policy::policy_set_annotation.size()));
  if (hash.empty()) {
    w.Null();
  } else {
    w.String(hash.data(), static_cast<rapidjson::SizeType>(hash.size()));
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string managed_selector() {
  return std::string(policy::managed_by_label) + "=" + std::string(policy::managed_by_value);
}

const k8s::resource& resource_of_kind(std::string_view kind) {
  return kind == k8s::cilium_network_policies.kind ? k8s::cilium_network_policies
                                                   : k8s::network_policies;
}

observed_object observe(const k8s::object_meta& item, std::string_view kind,
                        std::string_view written_version) {
  observed_object o;
  o.kind = str(kind);
  o.name = item.name;
  const auto hash = item.annotations.find(std::string(policy::spec_hash_annotation));
  if (hash != item.annotations.end()) o.spec_hash = hash->second;
  // managedFields survive our restarts, the resourceVersions we remember do not.
  o.edited = !written_version.empty() && written_version != item.resource_version;
  o.resource_version = item.resource_version;
  o.spec = item.spec;
  o.extra_fields = item.extra_fields;
  for (const auto& w : item.spec_managers) {
    o.writers.push_back(w.manager + " (" + w.operation + ")");
    if (w.manager != k8s::field_manager_name) o.foreign.push_back(o.writers.back());
  }
  return o;
}

bool is_rendered(const policy::rendered_object& desired, const observed_object& live) {
  return !desired.spec_hash.empty() && live.spec_hash == desired.spec_hash && !live.edited &&
         !live.extra_fields && live.foreign.empty() && policy::same_spec(desired, live.spec);
}

bool tampered(const policy::rendered_object& desired, const observed_object& live) {
  // An older rendering carries its own hash and only our writes; anything else is someone's.
  return !live.foreign.empty() || live.extra_fields || live.edited || live.spec_hash.empty() ||
         (live.spec_hash == desired.spec_hash && !policy::same_spec(desired, live.spec));
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
    if (it == have.end()) {
      plan.apply.push_back(&d);
    } else if (is_rendered(d, *it->second)) {
      ++plan.unchanged;
    } else {
      plan.replace.push_back({&d, *it->second});
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
  if (it == written_.end() || it->second.version != e.object.resource_version) return false;
  it->second.seen = true;
  return true;
}

std::string reconciler::written_version(const object_key& key) const {
  std::lock_guard lock(written_mutex_);
  const auto it = written_.find(key);
  return it == written_.end() ? std::string() : it->second.version;
}

void reconciler::set_written_version(const object_key& key, std::string version) {
  std::lock_guard lock(written_mutex_);
  if (version.empty()) {
    written_.erase(key);
  } else {
    written_[key] = {std::move(version), false};
  }
}

bool reconciler::behind_own_writes(const std::string& namespace_name,
                                   const prelisted& listed) const {
  std::map<std::pair<std::string_view, std::string_view>, std::string_view> held;
  for (const auto& o : listed.objects) held[{o.kind, o.name}] = o.resource_version;
  std::lock_guard lock(written_mutex_);
  // The keys sort by namespace first: one range, linear in what we wrote there.
  const object_key first{namespace_name, {}, {}};
  for (auto it = written_.lower_bound(first);
       it != written_.end() && std::get<0>(it->first) == namespace_name; ++it) {
    if (it->second.seen) continue;
    const auto h = held.find({std::get<1>(it->first), std::get<2>(it->first)});
    if (h == held.end() || h->second != it->second.version) return true;
  }
  for (auto it = pruned_.lower_bound(first);
       it != pruned_.end() && std::get<0>(*it) == namespace_name; ++it) {
    if (held.contains({std::get<1>(*it), std::get<2>(*it)})) return true;
  }
  return false;
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

reconcile_outcome reconciler::reconcile(const desired_state& desired,
                                        const std::string& namespace_name, const prelisted* listed,
                                        bool cilium_known_missing) {
  const policy::config& cfg = desired.config();
  const auto labels = namespaces_.labels_of(namespace_name);
  if (!labels) {
    // Not in the synced cache: the namespace does not exist (its ADDED event queues it again).
    reconcile_outcome out;
    out.status = reconcile_status::absent;
    return out;
  }

  reconcile_outcome out;
  // 1. Labels, in every mode: they are what the webhooks select on.
  const label_changes changes =
      namespace_label_changes(cfg, desired.roles(namespace_name), *labels);
  if (!changes.empty()) {
    auto patched = api_.merge_patch(k8s::namespaces, "", namespace_name, changes.merge_patch());
    if (!patched) return failed(patched.error(), "patch", "namespaces");
    out.labels_patched = true;
    namespaces_.upsert(namespace_name, patched->labels);
  }

  // 2. What the cluster holds, managed objects only (never anything without the label).
  const auto desired_set = desired.policies(namespace_name);
  const rendered_set& wanted = *desired_set;
  std::vector<observed_object> observed;
  auto add_observed = [&](const k8s::object_meta& item, std::string_view kind) {
    observed.push_back(
        observe(item, kind, written_version({namespace_name, str(kind), item.name})));
  };
  bool cilium_missing = false;
  // A store that has not yet caught up with our own writes would have them written again (an
  // update at its stale resourceVersion answers 409): the API server is asked instead.
  if (listed != nullptr && behind_own_writes(namespace_name, *listed)) listed = nullptr;
  if (listed != nullptr) {
    for (const auto& item : listed->objects) add_observed(item, item.kind);
    cilium_missing = listed->cilium_missing;
  } else {
    const bool wants_cilium =
        std::any_of(wanted.begin(), wanted.end(), [](const policy::rendered_object& d) {
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
        return failed(page.error(), "list", r->rbac_name());
      }
      for (const auto& item : page->items) add_observed(item, r->kind);
    }
  }
  const object_plan plan = plan_objects(wanted, observed);
  out.unchanged = plan.unchanged;
  for (const auto& o : observed) ++out.managed[o.kind];

  // The policy-set annotation (policy/policy_set.hpp) says "this set is stored" to every replica's
  // scheduling gate: written only once it is true, removed when no set is applied here.
  auto record = [&](const std::string& hash) -> std::optional<reconcile_outcome> {
    if (namespaces_.recorded_policy_set(namespace_name) == hash) return std::nullopt;
    auto patched =
        api_.merge_patch(k8s::namespaces, "", namespace_name, policy_set_patch(hash));
    if (!patched) {
      auto f = failed(patched.error(), "patch", "namespaces");
      f.managed = out.managed;
      f.applied = out.applied;
      f.pruned = out.pruned;
      return f;
    }
    out.set_recorded = true;
    namespaces_.upsert(namespace_name, patched->labels);
    const auto it = patched->annotations.find(std::string(policy::policy_set_annotation));
    namespaces_.set_policy_set(namespace_name,
                               it == patched->annotations.end() ? std::string() : it->second);
    return std::nullopt;
  };

  // 3. Audit applies nothing and deletes nothing; it reports.
  const auto mode = policy::effective_mode(cfg, labels.get(), namespace_name, nullptr);
  if (mode == policy::enforcement_mode::audit) {
    if (auto f = record({})) return *f;
    out.status = reconcile_status::audited;
    out.would_apply = plan.apply.size() + plan.replace.size();
    out.would_prune = plan.prune.size();
    return out;
  }

  // 4. The new set first: what is missing is created, what differs is replaced in place ...
  auto write_failed = [&](const k8s::api_error& e, std::string_view verb, const k8s::resource& r) {
    auto f = failed(e, verb, r.rbac_name());
    f.managed = out.managed;
    f.applied = out.applied;
    f.repairs = out.repairs;
    return f;
  };
  // PUT of the rendered object over what the cluster holds at resource_version.
  auto replace = [&](const policy::rendered_object& d, const k8s::resource& r,
                     std::string_view resource_version) -> k8s::api_result<k8s::object_meta> {
    auto replaced = api_.replace(r, namespace_name, d.name, replacement_body(d, resource_version));
    if (replaced) {
      set_written_version({namespace_name, d.kind, d.name}, replaced->resource_version);
    }
    return replaced;
  };
  for (const policy::rendered_object* d : plan.apply) {
    const k8s::resource& r = resource_of_kind(d->kind);
    if (&r == &k8s::cilium_network_policies && cilium_missing) {
      reconcile_outcome missing;
      missing.status = reconcile_status::crd_missing;
      missing.managed = out.managed;
      missing.message = "apply " + r.rbac_name() + ": the CiliumNetworkPolicy CRD is not installed";
      return missing;
    }
    auto applied = api_.apply(r, namespace_name, d->name, d->json);
    if (!applied) return write_failed(applied.error(), "apply", r);
    ++out.applied;
    ++out.managed[d->kind];
    set_written_version({namespace_name, d->kind, d->name}, applied->resource_version);
    // It may have been there without our label (created by someone during audit): the apply kept
    // every field it does not set and every other manager. Adopted: replaced like any other.
    const observed_object result = observe(*applied, d->kind, {});
    if (is_rendered(*d, result)) continue;
    auto replaced = replace(*d, r, applied->resource_version);
    if (!replaced) return write_failed(replaced.error(), "update", r);
    out.repairs.push_back({d->kind, d->name, true, result.foreign});  // ours: the apply just now
  }
  for (const object_repair& repair : plan.replace) {
    const policy::rendered_object& d = *repair.desired;
    const k8s::resource& r = resource_of_kind(d.kind);
    auto replaced = replace(d, r, repair.live.resource_version);
    if (!replaced) return write_failed(replaced.error(), "update", r);
    ++out.applied;
    if (tampered(d, repair.live)) {
      out.repairs.push_back({d.kind, d.name, false, repair.live.writers});
    }
  }
  // 5. ... then what is no longer desired, so a switch never leaves the namespace without deny.
  for (const observed_object& o : plan.prune) {
    const k8s::resource& r = resource_of_kind(o.kind);
    auto removed = api_.remove(r, namespace_name, o.name);
    if (!removed && removed.error().kind != k8s::failure_kind::not_found) {
      auto f = failed(removed.error(), "delete", r.rbac_name());
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
  // 6. Every object of the set is stored and what it replaces is gone: recorded as in place.
  if (auto f = record(desired.policy_set_hash(namespace_name))) return *f;
  out.status = reconcile_status::ok;
  return out;
}

}  // namespace mlnetpol::controller
