#pragma once
// A rate-limited, deduplicating work queue keyed by namespace (client-go's workqueue semantics): a
// key added twice while it waits is one item; a key added while it is processed is processed again
// after done(); failures back off per key (5 ms doubling to 1000 s, reset by forget()) and every
// rate-limited add also passes an overall token bucket (10/s, burst 100).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/token_bucket.hpp"

namespace mlnetpol::controller {

struct backoff_options {
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
  double bucket_qps = 10;  // 0: no overall limit
  double bucket_burst = 100;
};

class work_queue {
 public:
  using clock = std::chrono::steady_clock;
  explicit work_queue(backoff_options options = {});

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::nanoseconds delay);
  // Re-queues after the key's next backoff step (or the bucket's delay, whichever is longer), or
  // after at least `at_least` (a Retry-After). Returns the delay used.
  std::chrono::nanoseconds add_rate_limited(const std::string& key,
                                            std::chrono::nanoseconds at_least = {});
  // The key succeeded: its backoff starts over.
  void forget(const std::string& key);
  std::size_t requeues(const std::string& key) const;

  // Blocks until a key is due or shutdown; nullopt once shut down. The caller must call done(key).
  std::optional<std::string> get();
  void done(const std::string& key);

  // Wakes every get() (they return nullopt); later adds are ignored.
  void shutdown();
  bool shutting_down() const;

  std::size_t length() const;   // keys ready to be handed out
  std::size_t waiting() const;  // keys waiting for their delay
  bool idle() const;            // nothing ready, waiting or being processed

 private:
  void add_locked(const std::string& key);
  void promote_due_locked(clock::time_point now);
  std::chrono::nanoseconds item_delay_locked(const std::string& key);

  backoff_options options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;                  // queued, not yet handed out
  std::unordered_set<std::string> processing_;             // handed out, done() not called yet
  std::multimap<clock::time_point, std::string> waiting_;  // delayed adds, earliest first
  std::unordered_map<std::string, clock::time_point> waiting_at_;
  std::unordered_map<std::string, std::size_t> failures_;
  token_bucket bucket_;  // the overall rate, shared by all keys
  bool shutting_down_ = false;
};

}  // namespace mlnetpol::controller
