#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the
// lease when it is free or its holder has not renewed it for lease_duration (measured on our own
// clock from when we last saw the record change, so clock skew between replicas does not matter);
// the leader renews every retry_period and steps down when it could not renew for renew_deadline.
// Writes carry the resourceVersion read, so of two candidates one gets 409 and loses.
// The state machine takes the time as an argument (tests drive it with a fake clock).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "controller/cluster.hpp"

namespace mlnetpol::controller {

struct leader_election_options {
  std::string lease_namespace = "mlnetpol-system";
  std::string lease_name = "mlnetpol-reconciler";
  std::string identity;
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
};

// $POD_NAME, else hostname + "_" + pid (two processes on one host are two candidates).
std::string default_identity();
// $POD_NAMESPACE, else mlnetpol-system.
std::string default_lease_namespace();

class leader_elector {
 public:
  using steady = std::chrono::steady_clock;
  leader_elector(cluster& api, leader_election_options options);

  // One attempt (every retry_period): acquire or renew. True when we hold the lease afterwards.
  bool try_acquire_or_renew(steady::time_point now, std::chrono::system_clock::time_point wall);
  // Leader now: the last successful renew is younger than renew_deadline.
  bool is_leader(steady::time_point now) const;
  // When leadership ends unless a renew succeeds first: the start of the last successful attempt
  // plus renew_deadline (an attempt that hung past it does not extend it); epoch when not holding.
  steady::time_point leader_until() const;
  // Gives the lease up at once (holder cleared, duration 1 s) so another replica takes over
  // without waiting for it to expire. Only when we hold it.
  bool release(std::chrono::system_clock::time_point wall);

  const std::string& identity() const { return options_.identity; }
  const std::string& observed_holder() const { return observed_.holder_identity; }
  const leader_election_options& options() const { return options_; }

 private:
  cluster& api_;
  leader_election_options options_;
  k8s::lease_record observed_;        // the record as last read or written
  steady::time_point observed_at_{};  // when it last changed, on our clock
  bool have_observed_ = false;
  bool holding_ = false;
  steady::time_point last_renew_{};
};

// What the election loop tells its owner (client-go's LeaderCallbacks); each may be empty.
struct leader_callbacks {
  // Once a term, on the loop's thread, after leader() turned true.
  std::function<void()> on_started_leading;
  // Once a term, after leader() turned false: on the loop's thread, or on the deadline watch's
  // when a renew hangs past the deadline. why: a closed set of phrases. Not called on stop (the
  // owner is stopping; leader() turns false when the lease is released).
  std::function<void(std::string_view why)> on_stopped_leading;
  // After the loop stopped, before the lease is released (the owner's writers finish first).
  std::function<void()> before_release;
};

// The one election loop (client-go's LeaderElector.Run): one attempt every retry_period while
// leading, retry_period plus up to 1.2 times it while a candidate (candidates do not retry in
// lockstep); leadership ends when renew_deadline passes without a successful renew, whatever the
// request in flight is doing (a second thread watches the deadline); on stop the lease is
// released so another replica takes over at once.
class leader_election_loop {
 public:
  leader_election_loop(cluster& api, leader_election_options options, leader_callbacks callbacks);
  ~leader_election_loop();
  leader_election_loop(const leader_election_loop&) = delete;
  leader_election_loop& operator=(const leader_election_loop&) = delete;

  void start();
  // Wakes the loop: it ends after the attempt in hand and releases the lease. Returns at once.
  void request_stop();
  // request_stop() and waits for the release; leader() is false afterwards. Idempotent.
  void stop();

  // True from on_started_leading until the renew deadline passes without a successful renew.
  bool leader() const;
  const std::string& identity() const { return elector_.identity(); }
  const leader_election_options& options() const { return elector_.options(); }

  // One attempt and its callbacks; true when leading afterwards. The loop's thread calls it (tests
  // call it directly, without start()).
  bool step();
  // How long the loop waits after an attempt that left it leading or not.
  std::chrono::milliseconds next_wait(bool leading);

 private:
  void run();
  void watch_deadline();
  void lose(std::string_view why);
  bool wait_for(std::chrono::milliseconds d);  // false when stopping

  leader_elector elector_;  // the loop's thread only
  leader_callbacks callbacks_;
  std::mt19937 rng_;
  std::atomic<bool> leader_{false};
  std::atomic<std::int64_t> until_{0};  // steady_clock ticks: the renew deadline
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;        // guarded by mutex_
  std::uint64_t deadline_moved_ = 0;  // guarded by mutex_: wakes the deadline watch
  std::thread loop_thread_;
  std::thread watch_thread_;
};

}  // namespace mlnetpol::controller
