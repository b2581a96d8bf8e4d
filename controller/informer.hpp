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

// Where an informer lists and watches. The cluster constructor lists a resource by label
// selector; object_source() lists and watches one object by name, as client-go does with
// fieldSelector=metadata.name=NAME, which RBAC resourceNames can grant (a get/list/watch rule
// restricted to that name), so a token holding it cannot list any other object.
struct informer_source {
  std::function<k8s::api_result<k8s::list_page>()> list;
  std::function<k8s::api_result<void>(std::string_view resource_version,
                                      std::chrono::seconds timeout,
                                      const std::function<bool(const k8s::watch_event&)>&)>
      watch;
};
informer_source object_source(k8s::client& client, const k8s::resource& r, std::string ns,
                              std::string name);

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
  informer(informer_source source, informer_handlers handlers, informer_options options = {});
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

  informer_source source_;
  informer_handlers handlers_;
  informer_options options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> lists_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace mlnetpol::controller
