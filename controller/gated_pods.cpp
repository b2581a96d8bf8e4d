#include "controller/gated_pods.hpp"

#include "policy/policy_set.hpp"

namespace mlnetpol::controller {

std::set<std::string> gated_pod_index::replace(std::vector<k8s::object_meta>&& items,
                                               clock::time_point now) {
  std::set<std::string> namespaces;
  std::lock_guard lock(mutex_);
  std::map<std::string, std::map<std::string, pod>> next;
  for (auto& item : items) {
    pod p{std::move(item.spec), now};
    if (const auto ns = pods_.find(item.namespace_name); ns != pods_.end()) {
      if (const auto old = ns->second.find(item.name); old != ns->second.end())
        p.since = old->second.since;
    }
    namespaces.insert(item.namespace_name);
    next[item.namespace_name].insert_or_assign(std::move(item.name), std::move(p));
  }
  pods_.swap(next);
  return namespaces;
}

bool gated_pod_index::apply(const k8s::watch_event& e, clock::time_point now) {
  const std::string& ns = e.object.namespace_name;
  const bool gated = e.event_type != k8s::watch_event::type::deleted &&
                     e.object.labels.contains(std::string(policy::policy_set_gated_label));
  if (!gated) {
    erase(ns, e.object.name);
    return false;
  }
  std::lock_guard lock(mutex_);
  auto& pods = pods_[ns];
  const auto old = pods.find(e.object.name);
  const auto since = old == pods.end() ? now : old->second.since;
  pods.insert_or_assign(e.object.name, pod{e.object.spec, since});
  return true;
}

void gated_pod_index::erase(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mutex_);
  if (const auto it = pods_.find(ns); it != pods_.end()) {
    it->second.erase(name);
    if (it->second.empty()) pods_.erase(it);
  }
}

std::vector<std::pair<std::string, gated_pod_index::pod>> gated_pod_index::pods_of(
    const std::string& ns) const {
  std::lock_guard lock(mutex_);
  const auto it = pods_.find(ns);
  if (it == pods_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::size_t gated_pod_index::size_locked() const {
  std::size_t n = 0;
  for (const auto& [ns, pods] : pods_) n += pods.size();
  return n;
}

std::size_t gated_pod_index::size() const {
  std::lock_guard lock(mutex_);
  return size_locked();
}

std::size_t gated_pod_index::held_longer_than(clock::duration d, clock::time_point now) const {
  std::lock_guard lock(mutex_);
  std::size_t over = 0;
  for (const auto& [ns, pods] : pods_) {
    for (const auto& [name, p] : pods) over += now - p.since > d;
  }
  return over;
}

void gated_pod_index::namespaces(std::set<std::string>& into) const {
  std::lock_guard lock(mutex_);
  for (const auto& [ns, pods] : pods_) into.insert(ns);
}

std::vector<std::pair<std::string, std::size_t>> gated_pod_index::by_namespace(
    std::size_t most) const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::size_t>> out;
  for (const auto& [ns, pods] : pods_) {
    if (out.size() == most) break;
    out.emplace_back(ns, pods.size());
  }
  return out;
}

}  // namespace mlnetpol::controller
