#pragma once
// Namespace name -> labels as last seen on the API server, published as immutable snapshots
// (copy-on-write): readers (admission, on every request and every replica) load a pointer and
// never wait for the informer that writes. The names are spread over fixed shards, each its own
// snapshot, so a write copies one shard (n / 256 entries), not the whole map: 10,000 label
// patches on 10,000 namespaces would otherwise copy 10^8 entries.
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/namespace_lookup.hpp"

namespace mlnetpol::controller {

using label_map = policy::label_map;
// One immutable view of every namespace.
using namespace_snapshot = std::map<std::string, std::shared_ptr<const label_map>, std::less<>>;

class namespace_cache final : public policy::namespace_lookup {
 public:
  namespace_cache();

  // Null until the first list has synced, and for a namespace that does not exist.
  std::shared_ptr<const label_map> labels_of(std::string_view namespace_name) const override;
  // Every namespace, merged from the shards (a pass: linear in the namespaces).
  std::shared_ptr<const namespace_snapshot> snapshot() const;
  bool synced() const { return synced_.load(std::memory_order_acquire); }

  // The namespace's mlnetpol.io/policy-set annotation as last seen on the API server (the hash of
  // the set the leader recorded as stored); "" when absent, unknown or not synced.
  std::string recorded_policy_set(std::string_view namespace_name) const;

  // A full list: replaces everything and marks the cache synced. Returns the names whose labels
  // or recorded policy set changed, appeared or disappeared. policy_sets: name -> annotation value
  // of the namespaces that carry one.
  std::vector<std::string> replace(std::vector<std::pair<std::string, label_map>> namespaces,
                                   std::vector<std::pair<std::string, std::string>> policy_sets = {});
  // One watch event; false when nothing changed (labels equal).
  bool upsert(const std::string& name, label_map labels);
  // The recorded policy set of one namespace ("" removes it); false when unchanged.
  bool set_policy_set(const std::string& name, std::string hash);
  bool erase(std::string_view name);

 private:
  static constexpr std::size_t shard_count = 256;
  static std::size_t shard_of(std::string_view name);
  using set_snapshot = std::map<std::string, std::string, std::less<>>;
  std::array<std::atomic<std::shared_ptr<const namespace_snapshot>>, shard_count> shards_;
  // Kept apart from the labels: only the gate reads them, and a recorded set changes no label.
  std::array<std::atomic<std::shared_ptr<const set_snapshot>>, shard_count> sets_;
  std::atomic<bool> synced_{false};
  std::mutex write_mutex_;  // writers (informer, workers after a label patch) take turns
};

}  // namespace mlnetpol::controller
