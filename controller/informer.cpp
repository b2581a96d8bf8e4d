#include "controller/informer.hpp"

namespace mlnetpol::controller {

informer::informer(cluster& api, const k8s::resource& r, std::string label_selector,
                   informer_handlers handlers, informer_options options)
    : informer(informer_source{[&api, &r, label_selector] {
                                 return api.list_all(r, "", label_selector);
                               },
                               [&api, &r, label_selector](
                                   std::string_view version, std::chrono::seconds timeout,
                                   const std::function<bool(const k8s::watch_event&)>& on_event) {
                                 return api.watch(r, "", label_selector, version, timeout,
                                                  on_event);
                               }},
               std::move(handlers), options) {}

informer::informer(informer_source source, informer_handlers handlers, informer_options options)
    : source_(std::move(source)), handlers_(std::move(handlers)), options_(options) {}

informer_source object_source(k8s::client& client, const k8s::resource& r, std::string ns,
                              std::string name) {
  return {[&client, &r, ns, name] { return client.list_object(r, ns, name); },
          [&client, &r, ns, name](std::string_view version, std::chrono::seconds timeout,
                                  const std::function<bool(const k8s::watch_event&)>& on_event) {
            return client.watch_object(r, ns, name, version, timeout, on_event);
          }};
}

informer::~informer() {
  request_stop();
  join();
}

void informer::start() {
  thread_ = std::thread([this] { run(); });
}

void informer::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  cv_.notify_all();
}

void informer::join() {
  if (thread_.joinable()) thread_.join();
}

bool informer::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stop_.load(); });
}

void informer::run() {
  retry_backoff backoff(options_.min_backoff, options_.max_backoff);
  while (!stop_.load()) {
    auto listed = source_.list();
    lists_.fetch_add(1);
    if (!listed) {
      if (handlers_.on_error) handlers_.on_error(listed.error(), true);
      if (!sleep_for(backoff.next())) return;
      continue;
    }
    std::string version = listed->resource_version;
    if (handlers_.on_list) handlers_.on_list(std::move(listed->items));
    backoff.reset();

    // Watch until the server says the version is too old; a dropped stream resumes from the last
    // version seen, so no event between two watches is lost.
    bool relist = false;
    while (!stop_.load() && !relist) {
      bool saw_event = false;
      const auto started = std::chrono::steady_clock::now();
      auto watched =
          source_.watch(version, options_.watch_timeout,
                     [&](const k8s::watch_event& e) {
                       if (e.event_type == k8s::watch_event::type::error) {
                         relist = true;  // 410 Expired (or any error event): start over from a list
                         return false;
                       }
                       saw_event = true;
                       if (!e.object.resource_version.empty()) version = e.object.resource_version;
                       if (e.event_type != k8s::watch_event::type::bookmark && handlers_.on_event)
                         handlers_.on_event(e);
                       return !stop_.load();
                     });
      if (stop_.load()) return;
      // Too old (an error event or a 410 answer): relist now. Sleeping the backoff the outage
      // built up here is what left the controller blind after an API-server restart.
      if (!watched && watched.error().kind == k8s::failure_kind::expired) relist = true;
      if (relist) break;
      if (!watched) {
        if (handlers_.on_error) handlers_.on_error(watched.error(), false);
        if (!sleep_for(backoff.next())) return;
        continue;
      }
      if (saw_event) {
        backoff.reset();
      } else if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
        // A stream that ends at once without events (a proxy closing it) must not spin.
        if (!sleep_for(backoff.next())) return;
      }
    }
  }
}

}  // namespace mlnetpol::controller
