#include "controller/namespace_controller.hpp"

#include <algorithm>

#include "common/obs/logging.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

// What an Event says about a reconcile; no counters that change between retries, so repeats of
// one failure aggregate into one event's series.
std::string policy_set_note(const reconcile_outcome& out) {
  std::string note = "policy set applied: " + std::to_string(out.applied) + " written, " +
                     std::to_string(out.pruned) + " pruned";
  std::string held;
  for (const auto& [kind, n] : out.managed)
    held += (held.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
  if (!held.empty()) note += "; in place: " + held;
  return note;
}

std::string policy_set_failure_note(const reconcile_outcome& out) {
  std::string note = "policy set not applied (" + std::string(to_string(out.status)) +
                     (out.status == reconcile_status::retry ? ", retrying" : "") +
                     "): " + out.message;
  for (const auto& c : out.causes) note += "; " + c;
  return note;
}

}  // namespace

namespace_controller::namespace_controller(reconciler& reconciles, controller_metrics& metrics,
                                           backoff_options backoff,
                                           namespace_controller_hooks hooks)
    : reconciles_(reconciles),
      metrics_(metrics),
      queue_(backoff),
      results_(metrics),
      hooks_(std::move(hooks)) {}

namespace_controller::~namespace_controller() {
  shutdown();
  join();
}

void namespace_controller::start(unsigned workers, event_recorder* events) {
  events_ = events;
  {
    std::lock_guard lock(mutex_);
    running_ = std::max(1u, workers);
  }
  for (unsigned i = 0; i < std::max(1u, workers); ++i)
    workers_.emplace_back([this] { worker_loop(); });
}

void namespace_controller::shutdown() {
  queue_.shutdown();
}

void namespace_controller::join() {
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void namespace_controller::wait_for_workers(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  ended_.wait_for(lock, d, [this] { return running_ == 0; });
}

void namespace_controller::worker_loop() {
  while (auto key = queue_.get()) {
    process(*key);
    queue_.done(*key);
  }
  {
    std::lock_guard lock(mutex_);
    --running_;
  }
  ended_.notify_all();
}

void namespace_controller::process(const std::string& ns) {
  // Only the leader writes; a replica that gains the lease queues everything anew.
  const auto want = hooks_.desired();
  if (!hooks_.leader() || !want) {
    queue_.forget(ns);
    return;
  }
  namespace_listing listed = hooks_.listing(ns);
  const auto t0 = std::chrono::steady_clock::now();
  reconcile_outcome out = reconciles_.reconcile(
      *want, ns, listed.objects ? &*listed.objects : nullptr, listed.cilium_known_missing);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Leadership ended during the reconcile: its writes were refused; the next leader redoes it.
  if (!hooks_.leader()) {
    queue_.forget(ns);
    return;
  }
  metrics_.count_reconcile(to_string(out.status), seconds);
  const outcome_handling handling = handling_of(out.status);
  if (handling.retried) {
    queue_.add_rate_limited(ns, out.retry_after);
  } else {
    queue_.forget(ns);
  }
  if (handling.renderer_bug) metrics_.count_renderer_error();
  report(ns, out, handling, seconds);
  results_.record(ns, out);
  hooks_.reconciled(*want, ns, out, handling);
}

void namespace_controller::report(const std::string& ns, const reconcile_outcome& out,
                                  const outcome_handling& handling, double seconds) {
  if (handling.log.empty()) {
    if (out.writes() > 0) {
      logging::event(level::info, "namespace reconciled",
                     {{"namespace", ns},
                      {"labels_patched", out.labels_patched ? "true" : "false"},
                      {"applied", static_cast<std::uint64_t>(out.applied)},
                      {"pruned", static_cast<std::uint64_t>(out.pruned)},
                      {"seconds", seconds}});
    }
  } else if (handling.renderer_bug) {
    std::string causes;
    for (const auto& c : out.causes) causes += (causes.empty() ? "" : "; ") + c;
    logging::event(handling.level, handling.log,
                   {{"namespace", ns}, {"error", out.message}, {"causes", causes}});
  } else if (handling.level == level::warn) {
    logging::event(handling.level, handling.log,
                   {{"namespace", ns},
                    {"status", to_string(out.status)},
                    {"error", out.message},
                    {"attempt", static_cast<std::uint64_t>(queue_.requeues(ns))}});
  } else {
    logging::event(handling.level, handling.log, {{"namespace", ns}, {"error", out.message}});
  }

  for (const auto& repair : out.repairs) {
    std::string writers;
    for (const auto& w : repair.previous_writers) writers += (writers.empty() ? "" : ", ") + w;
    if (writers.empty()) writers = "none recorded";
    logging::event(level::warn,
                   repair.adopted ? "adopted an object mlnetpol did not create: replaced its spec"
                                  : "repaired a managed object someone else wrote: replaced it",
                   {{"namespace", ns},
                    {"kind", repair.kind},
                    {"name", repair.name},
                    {"previous_managers", writers}});
    if (events_) {
      events_->record(policy_repaired(
          {resource_of_kind(repair.kind).api_version(), repair.kind, ns, repair.name},
          repair.adopted, "previous managers: " + writers));
    }
  }

  if (events_) {
    // Only what changed or failed: an unchanged resync writes no event (nor anything else).
    if (handling.failed) {
      events_->record(policy_set_failed(ns, policy_set_failure_note(out)));
    } else if (out.applied + out.pruned > 0) {
      events_->record(policy_set_applied(ns, policy_set_note(out)));
    }
  }
}

}  // namespace mlnetpol::controller
