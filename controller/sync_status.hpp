#pragma once
// What a keeper's last sync left (the cluster-wide policy, the admission policies), kept for
// /status, and the lines a sync logs: one per change of state (not per pass), one per failed sync,
// one when it wrote.
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace mlnetpol::controller {

struct sync_status {
  // "unknown" before the first sync, "error" (message says why), else the keeper's own states.
  std::string state = "unknown";
  std::string message;
  std::size_t applied = 0;  // in the last sync: created or replaced
  std::size_t pruned = 0;
};

struct plan_result;

// What a sync wrote (controller/plan_writes.hpp); a refused call makes the state "error".
void note_writes(sync_status& s, const plan_result& wrote);

// A keeper's last status, read by /status while the next sync runs.
template <class status>
class status_cell {
 public:
  status get() const {
    std::lock_guard lock(mutex_);
    return status_;
  }
  // Stores next; returns the status it replaces.
  status exchange(status next) {
    std::lock_guard lock(mutex_);
    std::swap(status_, next);
    return next;
  }

 private:
  mutable std::mutex mutex_;
  status status_;
};

struct sync_wording {
  std::string_view subject;         // "<subject> not in place", "<subject> reconciled"
  std::string_view degraded_state;  // a state logged as a warning, its message as the reason
  std::string_view degraded_line;
};

// changed: the state differs from the last sync's (as the keeper counts it); in_place: logs the
// line of a changed state that is neither "error" nor the degraded one.
void log_sync(const sync_wording& words, const sync_status& next, bool changed,
              const std::function<void()>& in_place);

}  // namespace mlnetpol::controller
