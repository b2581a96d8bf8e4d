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

  // A full list: replaces everything and marks the cache synced. Returns the names whose labels
  // changed, appeared or disappeared.
  std::vector<std::string> replace(std::vector<std::pair<std::string, label_map>> namespaces);
  // One watch event; false when nothing changed (labels equal).
  bool upsert(const std::string& name, label_map labels);
  bool erase(std::string_view name);

 private:
  static constexpr std::size_t shard_count = 256;
  static std::size_t shard_of(std::string_view name);
  std::array<std::atomic<std::shared_ptr<const namespace_snapshot>>, shard_count> shards_;
  std::atomic<bool> synced_{false};
  std::mutex write_mutex_;  // writers (informer, workers after a label patch) take turns
};

}  // namespace mlnetpol::controller
