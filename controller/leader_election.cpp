#include "controller/leader_election.hpp"

#include <cstdlib>

#include <unistd.h>

namespace mlnetpol::controller {

std::string default_identity() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "mlnetpol") + "_" + std::to_string(getpid());
}

std::string default_lease_namespace() {
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr && *ns != '\0') return ns;
  return "mlnetpol-system";
}

leader_elector::leader_elector(cluster& api, leader_election_options options)
    : api_(api), options_(std::move(options)) {
  if (options_.identity.empty()) options_.identity = default_identity();
}

bool leader_elector::try_acquire_or_renew(steady::time_point now,
                                          std::chrono::system_clock::time_point wall) {
  const auto seconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count());
  auto got = api_.get_lease(options_.lease_namespace, options_.lease_name);
  if (!got) {
    // A failed read is no news: a leader stays one until renew_deadline passes without a renew.
    if (got.error().kind != k8s::failure_kind::not_found) return is_leader(now);
    k8s::lease_record fresh;
    fresh.namespace_name = options_.lease_namespace;
    fresh.name = options_.lease_name;
    fresh.holder_identity = options_.identity;
    fresh.lease_duration_seconds = seconds;
    fresh.acquire_time = fresh.renew_time = k8s::format_micro_time(wall);
    auto created = api_.create_lease(fresh);
    if (!created) {  // AlreadyExists: another candidate was faster
      holding_ = false;
      return false;
    }
    observed_ = *created;
    observed_at_ = now;
    have_observed_ = true;
    holding_ = true;
    last_renew_ = now;
    return true;
  }

  const k8s::lease_record& current = *got;
  // The expiry clock restarts whenever the record changes (a renew changes renew_time).
  if (!have_observed_ || current.holder_identity != observed_.holder_identity ||
      current.renew_time != observed_.renew_time ||
      current.resource_version != observed_.resource_version) {
    observed_ = current;
    observed_at_ = now;
    have_observed_ = true;
  }
  const bool mine = current.holder_identity == options_.identity;
  const auto held_for = std::chrono::seconds(current.lease_duration_seconds);
  if (!mine && !current.holder_identity.empty() && observed_at_ + held_for > now) {
    holding_ = false;  // someone else holds a live lease
    return false;
  }

  k8s::lease_record next = current;
  next.holder_identity = options_.identity;
  next.lease_duration_seconds = seconds;
  next.renew_time = k8s::format_micro_time(wall);
  if (!mine) {
    next.acquire_time = next.renew_time;
    ++next.lease_transitions;
  }
  auto updated = api_.update_lease(next);
  if (!updated) {
    // 409: the record moved under us, someone else won this round; other failures are no news.
    if (updated.error().kind == k8s::failure_kind::conflict) holding_ = false;
    return is_leader(now);
  }
  observed_ = *updated;
  observed_at_ = now;
  holding_ = true;
  last_renew_ = now;
  return true;
}

bool leader_elector::is_leader(steady::time_point now) const {
  return holding_ && now - last_renew_ < options_.renew_deadline;
}

leader_elector::steady::time_point leader_elector::leader_until() const {
  return holding_ ? last_renew_ + options_.renew_deadline : steady::time_point{};
}

bool leader_elector::release(std::chrono::system_clock::time_point wall) {
  if (!holding_) return false;
  holding_ = false;
  k8s::lease_record next = observed_;
  next.holder_identity.clear();
  next.lease_duration_seconds = 1;
  next.renew_time = k8s::format_micro_time(wall);
  auto updated = api_.update_lease(next);
  if (!updated) return false;
  observed_ = *updated;
  return true;
}

}  // namespace mlnetpol::controller
