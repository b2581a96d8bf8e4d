#include "controller/namespace_cache.hpp"

namespace mlnetpol::controller {

namespace_cache::namespace_cache() : current_(std::make_shared<const namespace_snapshot>()) {}

std::shared_ptr<const label_map> namespace_cache::labels_of(std::string_view namespace_name) const {
  if (!synced()) return nullptr;
  const auto snap = current_.load(std::memory_order_acquire);
  const auto it = snap->find(namespace_name);
  return it == snap->end() ? nullptr : it->second;
}

std::shared_ptr<const namespace_snapshot> namespace_cache::snapshot() const {
  return current_.load(std::memory_order_acquire);
}

std::vector<std::string> namespace_cache::replace(
    std::vector<std::pair<std::string, label_map>> namespaces) {
  std::lock_guard lock(write_mutex_);
  const auto old = current_.load(std::memory_order_acquire);
  auto next = std::make_shared<namespace_snapshot>();
  std::vector<std::string> changed;
  for (auto& [name, labels] : namespaces) {
    const auto it = old->find(name);
    if (it != old->end() && *it->second == labels) {
      (*next)[name] = it->second;  // unchanged entries are shared, not copied
      continue;
    }
    changed.push_back(name);
    (*next)[name] = std::make_shared<const label_map>(std::move(labels));
  }
  for (const auto& [name, labels] : *old) {
    if (!next->contains(name)) changed.push_back(name);
  }
  current_.store(std::move(next), std::memory_order_release);
  synced_.store(true, std::memory_order_release);
  return changed;
}

// Each write copies the map of pointers (not the labels).
bool namespace_cache::upsert(const std::string& name, label_map labels) {
  std::lock_guard lock(write_mutex_);
  const auto old = current_.load(std::memory_order_acquire);
  const auto it = old->find(name);
  if (it != old->end() && *it->second == labels) return false;
  auto next = std::make_shared<namespace_snapshot>(*old);
  (*next)[name] = std::make_shared<const label_map>(std::move(labels));
  current_.store(std::move(next), std::memory_order_release);
  return true;
}

bool namespace_cache::erase(std::string_view name) {
  std::lock_guard lock(write_mutex_);
  const auto old = current_.load(std::memory_order_acquire);
  const auto it = old->find(name);
  if (it == old->end()) return false;
  auto next = std::make_shared<namespace_snapshot>(*old);
  next->erase(std::string(name));
  current_.store(std::move(next), std::memory_order_release);
  return true;
}

}  // namespace mlnetpol::controller
