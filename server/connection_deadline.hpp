#pragma once
// A connection's deadline (one per phase: handshake, idle, header, body, write, closing), enforced
// by one lazily re-armed timer: moving the deadline is a store, not a timer cancel and a posted
// handler per I/O operation. The timer never waits longer than max_wait (the shortest of the phase
// timeouts), so a later phase's deadline is never earlier than the pending wake-up and moving it
// needs no re-arm; only an earlier one (the short closing deadline, the drain window) re-arms.
#include <algorithm>
#include <chrono>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mlnetpol::server {

class connection_deadline {
 public:
  using clock = std::chrono::steady_clock;

  connection_deadline(const boost::asio::any_io_executor& ex, std::chrono::milliseconds max_wait)
      : timer_(ex), max_wait_(max_wait) {}

  clock::time_point at() const { return deadline_; }
  bool passed(clock::time_point now) const { return now >= deadline_; }

  // Moves the deadline, earlier or later. make_handler() gives the wait's completion handler
  // (called with its error_code); it is called only when the timer must be armed.
  template <typename MakeHandler>
  void set(clock::time_point deadline, clock::time_point now, MakeHandler&& make_handler) {
    deadline_ = deadline;
    if (!armed_ || deadline_ < expiry_) arm(now, make_handler());
  }

  // First thing in a wake-up that was not cancelled (operation_aborted: a re-arm replaced it, and
  // the timer is still armed).
  void fired() { armed_ = false; }

  // A wake-up before the deadline (it moved later meanwhile): wait again.
  template <typename Handler>
  void rearm(clock::time_point now, Handler&& handler) {
    arm(now, std::forward<Handler>(handler));
  }

  void cancel() { timer_.cancel(); }

 private:
  template <typename Handler>
  void arm(clock::time_point now, Handler&& handler) {
    armed_ = true;
    expiry_ = std::min(deadline_, now + max_wait_);
    timer_.expires_at(expiry_);  // cancels a pending wait, which then returns early
    timer_.async_wait(std::forward<Handler>(handler));
  }

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds max_wait_;
  clock::time_point deadline_{};
  clock::time_point expiry_{};
  bool armed_ = false;
};

}  // namespace mlnetpol::server
