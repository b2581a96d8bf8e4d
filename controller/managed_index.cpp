#include "controller/managed_index.hpp"

#include "policy/policy_set.hpp"

namespace mlnetpol::controller {

k8s::object_meta compact(k8s::object_meta meta) {
  meta.labels.clear();
  meta.api_version.clear();
  meta.uid.clear();
  for (auto it = meta.annotations.begin(); it != meta.annotations.end();) {
    it = it->first == policy::spec_hash_annotation ? std::next(it) : meta.annotations.erase(it);
  }
  return meta;
}

std::vector<std::string> managed_index::replace(const std::string& kind,
                                                std::vector<k8s::object_meta>&& items) {
  std::map<std::string, objects> listed;
  for (auto& item : items) {
    item.kind = kind;
    const std::string ns = item.namespace_name;
    std::string name = item.name;
    listed[ns].insert_or_assign({kind, std::move(name)}, compact(std::move(item)));
  }
  std::vector<std::string> changed;
  std::lock_guard lock(mutex_);
  // Old entries of this kind: all still there, at the same resourceVersion, and no new one?
  for (auto it = by_namespace_.begin(); it != by_namespace_.end();) {
    auto& held = it->second;
    const auto fresh = listed.find(it->first);
    objects none;
    objects& now = fresh == listed.end() ? none : fresh->second;
    bool differs = false;
    std::size_t before = 0;
    for (auto o = held.begin(); o != held.end();) {
      if (o->first.first != kind) {
        ++o;
        continue;
      }
      ++before;
      const auto n = now.find(o->first);
      if (n == now.end() || n->second.resource_version != o->second.resource_version)
        differs = true;
      o = held.erase(o);
    }
    if (before != now.size()) differs = true;
    auto& count = count_[kind];
    count = count + now.size() - before;
    for (auto& [key, meta] : now) held.insert_or_assign(key, std::move(meta));
    if (fresh != listed.end()) listed.erase(fresh);
    if (differs) changed.push_back(it->first);
    it = held.empty() ? by_namespace_.erase(it) : std::next(it);
  }
  // Namespaces that held nothing before.
  for (auto& [ns, objs] : listed) {
    count_[kind] += objs.size();
    by_namespace_.emplace(ns, std::move(objs));
    changed.push_back(ns);
  }
  listed_.insert(kind);
  return changed;
}

void managed_index::apply(const std::string& kind, const k8s::watch_event& e) {
  const std::string& ns = e.object.namespace_name;
  const std::pair<std::string, std::string> key{kind, e.object.name};
  std::lock_guard lock(mutex_);
  if (e.event_type == k8s::watch_event::type::deleted) {
    auto it = by_namespace_.find(ns);
    if (it != by_namespace_.end() && it->second.erase(key) == 1) {
      --count_[kind];
      if (it->second.empty()) by_namespace_.erase(it);
    }
    return;
  }
  k8s::object_meta meta = e.object;
  meta.kind = kind;
  if (by_namespace_[ns].insert_or_assign(key, compact(std::move(meta))).second) ++count_[kind];
}

bool managed_index::listed(std::string_view kind) const {
  std::lock_guard lock(mutex_);
  return listed_.contains(kind);
}

bool managed_index::synced(bool cilium_missing) const {
  return listed(k8s::network_policies.kind) &&
         (cilium_missing || listed(k8s::cilium_network_policies.kind));
}

std::optional<prelisted> managed_index::objects_of(const std::string& ns,
                                                   bool cilium_missing) const {
  if (!synced(cilium_missing)) return std::nullopt;
  prelisted p;
  p.cilium_missing = cilium_missing;
  std::lock_guard lock(mutex_);
  if (const auto it = by_namespace_.find(ns); it != by_namespace_.end()) {
    p.objects.reserve(it->second.size());
    for (const auto& [key, meta] : it->second) p.objects.push_back(meta);
  }
  return p;
}

bool managed_index::holds(const std::string& ns) const {
  std::lock_guard lock(mutex_);
  return by_namespace_.contains(ns);
}

void managed_index::namespaces(std::set<std::string>& into) const {
  std::lock_guard lock(mutex_);
  for (const auto& [ns, objs] : by_namespace_) into.insert(ns);
}

std::map<std::string, std::size_t> managed_index::counts() const {
  std::lock_guard lock(mutex_);
  return count_;
}

std::size_t managed_index::total() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [kind, c] : count_) n += c;
  return n;
}

}  // namespace mlnetpol::controller
