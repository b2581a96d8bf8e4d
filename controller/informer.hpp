#pragma once
// List + watch of one resource (optionally filtered by a label selector), on its own thread:
// lists, then watches from the list's resourceVersion; resumes a broken watch from the last
// resourceVersion seen (events and bookmarks); relists at once when the server says it is too old
// (410 / expired), as client-go's reflector does; backs off on errors, briefly (capped at a few
// seconds), so a restarted API server is seen within seconds. Handlers run on the informer's
// thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/cluster.hpp"

namespace mlnetpol::controller {

struct informer_handlers {
  // A full list (first sync and every relist): the store is replaced by these items.
  std::function<void(std::vector<k8s::object_meta>&& items)> on_list;
  // An added / modified / deleted object (bookmarks and errors are handled here).
  std::function<void(const k8s::watch_event& event)> on_event;
  // A failed list or watch (after which the informer backs off and tries again).
  std::function<void(const k8s::api_error& error, bool listing)> on_error;
};

struct informer_options {
  std::chrono::seconds watch_timeout{300};  // the server ends each watch after this
  std::chrono::milliseconds min_backoff{200};
  // A failed call is cheap for a down API server (connection refused); a long cap is what kept
  // the controller blind for up to this long after the server was back.
  std::chrono::milliseconds max_backoff{2'000};
};

// Doubling delays from min to max; reset() after a success.
class retry_backoff {
 public:
  retry_backoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
      : min_(min), max_(std::max(min, max)), next_(min) {}
  std::chrono::milliseconds next() {
    const auto d = next_;
    next_ = std::min(next_ * 2, max_);
    return d;
  }
  void reset() { next_ = min_; }

 private:
  std::chrono::milliseconds min_, max_, next_;
};

class informer {
 public:
  informer(cluster& api, const k8s::resource& r, std::string label_selector,
           informer_handlers handlers, informer_options options = {});
  ~informer();
  informer(const informer&) = delete;
  informer& operator=(const informer&) = delete;

  void start();
  // Ends the loop at the next event or error; a watch waiting for events ends when the cluster is
  // cancelled (the manager cancels it on shutdown) or its timeout passes.
  void request_stop();
  void join();

  // One list (+ the watches after it) on the caller's thread until request_stop(); for tests.
  void run();

  std::uint64_t lists() const { return lists_.load(); }

 private:
  bool sleep_for(std::chrono::milliseconds d);  // false when stopped meanwhile

  cluster& api_;
  const k8s::resource& resource_;
  std::string selector_;
  informer_handlers handlers_;
  informer_options options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> lists_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace mlnetpol::controller
