#include "controller/leader_election.hpp"

#include <cstdlib>
#include <random>

#include <unistd.h>

#include "common/obs/logging.hpp"

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

namespace {

std::int64_t ticks(std::chrono::steady_clock::time_point t) {
  return t.time_since_epoch().count();
}

constexpr std::string_view deadline_passed = "renew deadline passed without a successful renew";

}  // namespace

leader_election_loop::leader_election_loop(cluster& api, leader_election_options options,
                                           leader_callbacks callbacks)
    : elector_(api, std::move(options)),
      callbacks_(std::move(callbacks)),
      rng_(std::random_device{}()) {}

leader_election_loop::~leader_election_loop() {
  stop();
}

void leader_election_loop::start() {
  if (loop_thread_.joinable()) return;
  loop_thread_ = std::thread([this] { run(); });
  watch_thread_ = std::thread([this] { watch_deadline(); });
}

void leader_election_loop::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void leader_election_loop::stop() {
  request_stop();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  until_.store(0);
  leader_.store(false);
}

bool leader_election_loop::leader() const {
  return leader_.load() && ticks(std::chrono::steady_clock::now()) < until_.load();
}

bool leader_election_loop::step() {
  using steady = std::chrono::steady_clock;
  const bool held = elector_.try_acquire_or_renew(steady::now(), std::chrono::system_clock::now());
  // An attempt that hung past the renew deadline does not count, even if it answered at last.
  const auto until = elector_.leader_until();
  const bool leading = held && steady::now() < until;
  until_.store(leading ? ticks(until) : 0);
  {
    std::lock_guard lock(mutex_);
    ++deadline_moved_;
  }
  cv_.notify_all();
  if (!leading) {
    const std::string& holder = elector_.observed_holder();
    lose(!holder.empty() && holder != elector_.identity() ? "another replica holds the lease"
                                                          : deadline_passed);
  } else if (!leader_.exchange(true) && callbacks_.on_started_leading) {
    callbacks_.on_started_leading();
  }
  return leading;
}

std::chrono::milliseconds leader_election_loop::next_wait(bool leading) {
  const auto retry = elector_.options().retry_period;
  if (leading) return retry;
  // client-go's JitterUntil with factor 1.2 on the acquire loop.
  std::uniform_real_distribution<double> jitter(0.0, 1.2);
  return retry + std::chrono::milliseconds(static_cast<std::int64_t>(
                     static_cast<double>(retry.count()) * jitter(rng_)));
}

void leader_election_loop::lose(std::string_view why) {
  if (!leader_.exchange(false)) return;
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading(why);
}

bool leader_election_loop::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void leader_election_loop::run() {
  while (wait_for(next_wait(step()))) {
  }
  if (callbacks_.before_release) callbacks_.before_release();
  // The owner is stopping: no on_stopped_leading, the lease goes.
  if (elector_.release(std::chrono::system_clock::now()))
    obs::logging::event(spdlog::level::info, "lease released", {{"identity", identity()}});
  until_.store(0);
  leader_.store(false);
}

// client-go's rule: a leader that has not renewed within renew_deadline stops acting as one then,
// not when its renew request finally returns (it may hang for the whole request timeout).
void leader_election_loop::watch_deadline() {
  using steady = std::chrono::steady_clock;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto until = steady::time_point(steady::duration(until_.load()));
    if (leader_.load() && steady::now() >= until) {
      lock.unlock();
      lose(deadline_passed);
      lock.lock();
      continue;
    }
    const std::uint64_t seen = deadline_moved_;
    const auto wake = leader_.load() ? until : steady::now() + elector_.options().retry_period;
    cv_.wait_until(lock, wake, [&] { return stopping_ || deadline_moved_ != seen; });
  }
}

}  // namespace mlnetpol::controller
