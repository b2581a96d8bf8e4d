#include "controller/namespace_cache.hpp"

#include <algorithm>
#include <functional>
#include <iterator>

namespace mlnetpol::controller {

namespace_cache::namespace_cache() {
  for (auto& shard : shards_) shard.store(std::make_shared<const namespace_snapshot>());
  for (auto& shard : sets_) shard.store(std::make_shared<const set_snapshot>());
}

std::string namespace_cache::recorded_policy_set(std::string_view namespace_name) const {
  if (!synced()) return {};
  const auto snap = sets_[shard_of(namespace_name)].load(std::memory_order_acquire);
  const auto it = snap->find(namespace_name);
  return it == snap->end() ? std::string() : it->second;
}

bool namespace_cache::set_policy_set(const std::string& name, std::string hash) {
  std::lock_guard lock(write_mutex_);
  auto& shard = sets_[shard_of(name)];
  const auto old = shard.load(std::memory_order_acquire);
  const auto it = old->find(name);
  if (it == old->end() ? hash.empty() : it->second == hash) return false;
  auto next = std::make_shared<set_snapshot>(*old);
  if (hash.empty()) {
    next->erase(name);
  } else {
    (*next)[name] = std::move(hash);
  }
  shard.store(std::move(next), std::memory_order_release);
  return true;
}

std::size_t namespace_cache::shard_of(std::string_view name) {
  return std::hash<std::string_view>{}(name) % shard_count;
}

std::shared_ptr<const label_map> namespace_cache::labels_of(std::string_view namespace_name) const {
  if (!synced()) return nullptr;
  const auto snap = shards_[shard_of(namespace_name)].load(std::memory_order_acquire);
  const auto it = snap->find(namespace_name);
  return it == snap->end() ? nullptr : it->second;
}

std::shared_ptr<const namespace_snapshot> namespace_cache::snapshot() const {
  auto all = std::make_shared<namespace_snapshot>();
  for (const auto& shard : shards_) {
    const auto snap = shard.load(std::memory_order_acquire);
    all->insert(snap->begin(), snap->end());
  }
  return all;
}

std::vector<std::string> namespace_cache::replace(
    std::vector<std::pair<std::string, label_map>> namespaces,
    std::vector<std::pair<std::string, std::string>> policy_sets) {
  std::lock_guard lock(write_mutex_);
  std::array<std::shared_ptr<set_snapshot>, shard_count> sets;
  for (auto& shard : sets) shard = std::make_shared<set_snapshot>();
  for (auto& [name, hash] : policy_sets) {
    if (!hash.empty()) (*sets[shard_of(name)])[std::move(name)] = std::move(hash);
  }
  std::vector<std::string> set_changed;
  for (std::size_t i = 0; i < shard_count; ++i) {
    const auto old = sets_[i].load(std::memory_order_acquire);
    // Both sorted by name: one merge finds what differs.
    auto a = old->begin();
    auto b = sets[i]->begin();
    while (a != old->end() || b != sets[i]->end()) {
      if (b == sets[i]->end() || (a != old->end() && a->first < b->first)) {
        set_changed.push_back(a++->first);
      } else if (a == old->end() || b->first < a->first) {
        set_changed.push_back(b++->first);
      } else {
        if (a->second != b->second) set_changed.push_back(a->first);
        ++a;
        ++b;
      }
    }
    sets_[i].store(std::move(sets[i]), std::memory_order_release);
  }
  std::array<std::shared_ptr<const namespace_snapshot>, shard_count> old;
  std::array<std::shared_ptr<namespace_snapshot>, shard_count> next;
  for (std::size_t i = 0; i < shard_count; ++i) {
    old[i] = shards_[i].load(std::memory_order_acquire);
    next[i] = std::make_shared<namespace_snapshot>();
  }
  std::vector<std::string> changed;
  for (auto& [name, labels] : namespaces) {
    const std::size_t i = shard_of(name);
    const auto it = old[i]->find(name);
    if (it != old[i]->end() && *it->second == labels) {
      (*next[i])[name] = it->second;  // unchanged entries are shared, not copied
      continue;
    }
    changed.push_back(name);
    (*next[i])[name] = std::make_shared<const label_map>(std::move(labels));
  }
  for (std::size_t i = 0; i < shard_count; ++i) {
    for (const auto& [name, labels] : *old[i]) {
      if (!next[i]->contains(name)) changed.push_back(name);
    }
    shards_[i].store(std::move(next[i]), std::memory_order_release);
  }
  synced_.store(true, std::memory_order_release);
  if (!set_changed.empty()) {
    // n log n: a name whose labels and set both changed is reported once.
    changed.insert(changed.end(), std::make_move_iterator(set_changed.begin()),
                   std::make_move_iterator(set_changed.end()));
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  }
  return changed;
}

// Each write copies one shard's map of pointers (not the labels).
bool namespace_cache::upsert(const std::string& name, label_map labels) {
  std::lock_guard lock(write_mutex_);
  auto& shard = shards_[shard_of(name)];
  const auto old = shard.load(std::memory_order_acquire);
  const auto it = old->find(name);
  if (it != old->end() && *it->second == labels) return false;
  auto next = std::make_shared<namespace_snapshot>(*old);
  (*next)[name] = std::make_shared<const label_map>(std::move(labels));
  shard.store(std::move(next), std::memory_order_release);
  return true;
}

bool namespace_cache::erase(std::string_view name) {
  std::lock_guard lock(write_mutex_);
  auto& shard = shards_[shard_of(name)];
  const auto old = shard.load(std::memory_order_acquire);
  const auto it = old->find(name);
  if (it == old->end()) return false;
  auto next = std::make_shared<namespace_snapshot>(*old);
  next->erase(std::string(name));
  shard.store(std::move(next), std::memory_order_release);
  auto& sets = sets_[shard_of(name)];
  const auto old_sets = sets.load(std::memory_order_acquire);
  if (old_sets->find(name) != old_sets->end()) {
    auto next_sets = std::make_shared<set_snapshot>(*old_sets);
    next_sets->erase(std::string(name));
    sets.store(std::move(next_sets), std::memory_order_release);
  }
  return true;
}

}  // namespace mlnetpol::controller
