#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the
// lease when it is free or its holder has not renewed it for lease_duration (measured on our own
// clock from when we last saw the record change, so clock skew between replicas does not matter);
// the leader renews every retry_period and steps down when it could not renew for renew_deadline.
// Writes carry the resourceVersion read, so of two candidates one gets 409 and loses.
// The state machine takes the time as an argument (tests drive it with a fake clock).
#include <chrono>
#include <cstdint>
#include <string>

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

}  // namespace mlnetpol::controller
