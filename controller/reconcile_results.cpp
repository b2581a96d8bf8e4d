#include "controller/reconcile_results.hpp"

#include "common/obs/logging.hpp"

namespace mlnetpol::controller {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

outcome_handling handling_of(reconcile_status s) {
  switch (s) {
    case reconcile_status::ok:
    case reconcile_status::audited:
    case reconcile_status::absent:
    case reconcile_status::dropped:
    case reconcile_status::skipped:
      return {};
    case reconcile_status::invalid:
      // The renderer produced an object the API server rejects: retrying now cannot help.
      return {false, true, true, level::err,
              "API server rejected a rendered object (renderer bug)"};
    case reconcile_status::forbidden:
      return {true, true, false, level::err, "reconcile forbidden"};
    case reconcile_status::unauthorized:
      return {true, true, false, level::err, "reconcile unauthenticated"};
    case reconcile_status::retry:
    case reconcile_status::crd_missing:
      return {true, true, false, level::warn, "reconcile failed, retrying"};
  }
  return {true, true, false, level::warn, "reconcile failed, retrying"};
}

void reconcile_results::record(const std::string& ns, const reconcile_outcome& out) {
  std::lock_guard lock(mutex_);
  if (handling_of(out.status).failed) {
    errors_[ns] = std::string(to_string(out.status)) + ": " + out.message;
  } else {
    errors_.erase(ns);
  }
  if (out.status == reconcile_status::audited) {
    const audit_report report{out.would_apply, out.would_prune};
    auto [it, inserted] = audit_.try_emplace(ns, report);
    // One line per namespace when what audit would do changes, not on every resync.
    if (inserted || it->second != report) {
      audit_would_apply_ += report.would_apply - (inserted ? 0 : it->second.would_apply);
      it->second = report;
      logging::event(level::info, "audit: policies not applied",
                     {{"namespace", ns},
                      {"would_apply", static_cast<std::uint64_t>(out.would_apply)},
                      {"would_prune", static_cast<std::uint64_t>(out.would_prune)}});
    }
  } else if (out.status != reconcile_status::retry) {
    erase_audit_locked(ns);
  }
  metrics_.set_audit_would_apply(audit_would_apply_);
}

void reconcile_results::forget(const std::string& ns) {
  std::lock_guard lock(mutex_);
  errors_.erase(ns);
  erase_audit_locked(ns);
  metrics_.set_audit_would_apply(audit_would_apply_);
}

void reconcile_results::erase_audit_locked(const std::string& ns) {
  const auto it = audit_.find(ns);
  if (it == audit_.end()) return;
  audit_would_apply_ -= it->second.would_apply;
  audit_.erase(it);
}

std::map<std::string, std::string> reconcile_results::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

std::map<std::string, audit_report> reconcile_results::audit() const {
  std::lock_guard lock(mutex_);
  return audit_;
}

}  // namespace mlnetpol::controller
