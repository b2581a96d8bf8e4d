#include "controller/work_queue.hpp"

#include <algorithm>
#include <cmath>

namespace mlnetpol::controller {

work_queue::work_queue(backoff_options options)
    : options_(options),
      bucket_(options.bucket_burst,
              std::chrono::nanoseconds(
                  options.bucket_qps > 0 ? static_cast<std::int64_t>(1e9 / options.bucket_qps) : 0),
              clock::now()) {}

void work_queue::add(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    add_locked(key);
  }
  cv_.notify_one();
}

void work_queue::add_locked(const std::string& key) {
  if (shutting_down_ || dirty_.contains(key)) return;
  dirty_.insert(key);
  // A key being processed goes back in when done() is called, so one key never runs twice at once.
  if (processing_.contains(key)) return;
  queue_.push_back(key);
}

void work_queue::add_after(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay <= std::chrono::nanoseconds::zero()) return add(key);
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return;
    const auto at = clock::now() + delay;
    const auto found = waiting_at_.find(key);
    if (found != waiting_at_.end()) {
      // Already waiting: keep the earlier time.
      if (found->second <= at) return;
      auto range = waiting_.equal_range(found->second);
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == key) {
          waiting_.erase(it);
          break;
        }
      }
    }
    waiting_.emplace(at, key);
    waiting_at_[key] = at;
  }
  // The earliest deadline may have changed: sleepers recompute it.
  cv_.notify_all();
}

std::chrono::nanoseconds work_queue::item_delay_locked(const std::string& key) {
  const std::size_t n = failures_[key]++;
  // 2^n overflows long before the cap matters; stop doubling once past it.
  const double factor = std::ldexp(1.0, static_cast<int>(std::min<std::size_t>(n, 62)));
  const double ns = static_cast<double>(options_.base_delay.count()) * factor;
  if (ns >= static_cast<double>(options_.max_delay.count())) return options_.max_delay;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::chrono::nanoseconds work_queue::add_rate_limited(const std::string& key,
                                                      std::chrono::nanoseconds at_least) {
  std::chrono::nanoseconds delay;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return {};
    delay = std::max({item_delay_locked(key), bucket_.reserve(clock::now()), at_least});
  }
  add_after(key, delay);
  return delay;
}

void work_queue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

std::size_t work_queue::requeues(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void work_queue::promote_due_locked(clock::time_point now) {
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    const std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_at_.erase(key);
    add_locked(key);
  }
}

std::optional<std::string> work_queue::get() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (shutting_down_) return std::nullopt;
    promote_due_locked(clock::now());
    if (!queue_.empty()) break;
    if (waiting_.empty()) {
      cv_.wait(lock);
    } else {
      // A copy: wait_until reads its deadline again after waking, when another thread may have
      // erased that entry.
      const clock::time_point due = waiting_.begin()->first;
      cv_.wait_until(lock, due);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void work_queue::done(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    processing_.erase(key);
    if (!dirty_.contains(key)) return;
    queue_.push_back(key);
  }
  cv_.notify_one();
}

void work_queue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
  }
  cv_.notify_all();
}

bool work_queue::shutting_down() const {
  std::lock_guard lock(mutex_);
  return shutting_down_;
}

std::size_t work_queue::length() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t work_queue::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

bool work_queue::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && waiting_.empty() && processing_.empty();
}

}  // namespace mlnetpol::controller
