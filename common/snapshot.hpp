#pragma once
// A value readers take as an immutable snapshot while a writer swaps in the next one (the
// configuration on reload): readers keep the snapshot they took for as long as they hold it.
#include <memory>
#include <mutex>
#include <utility>

namespace mlnetpol {

template <class T>
class snapshot {
 public:
  explicit snapshot(T initial) : current_(std::make_shared<const T>(std::move(initial))) {}

  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

  void set(T next) {
    auto fresh = std::make_shared<const T>(std::move(next));
    std::lock_guard lock(mutex_);
    current_.swap(fresh);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;
};

}  // namespace mlnetpol
