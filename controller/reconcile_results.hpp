#pragma once
// What the controller makes of one namespace's reconcile: how each status is handled (one table,
// read once per outcome: requeue or forget, failure or not, which log line), and what is kept of
// the last outcome per namespace for /status and the metrics (its failure, what audit would do).
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/common.h>

#include "controller/metrics.hpp"
#include "controller/reconciler.hpp"

namespace mlnetpol::controller {

struct outcome_handling {
  bool retried = false;       // requeued with backoff: not settled, not part of a full sync yet
  bool failed = false;        // shown in /status `errors`, reported by a PolicySetFailed Event
  bool renderer_bug = false;  // counted in mlnetpol_renderer_errors_total, logged with its causes
  spdlog::level::level_enum level = spdlog::level::info;
  std::string_view log;  // the line a failure logs; "" for none
};
outcome_handling handling_of(reconcile_status s);

// What audit mode would do in a namespace: policies it would apply and prune.
struct audit_report {
  std::size_t would_apply = 0;
  std::size_t would_prune = 0;
  bool operator==(const audit_report&) const = default;
};

// The last outcome per namespace; thread-safe (the workers record, /status reads).
class reconcile_results {
 public:
  // The gauge mlnetpol_audit_would_apply_policies follows what is recorded.
  explicit reconcile_results(controller_metrics& metrics) : metrics_(metrics) {}
  // A reconcile's outcome: its failure replaces or clears the namespace's; an audit report is
  // kept (one log line when it changes), cleared by any other settled outcome.
  void record(const std::string& ns, const reconcile_outcome& out);
  void forget(const std::string& ns);  // the namespace is gone
  std::map<std::string, std::string> errors() const;
  std::map<std::string, audit_report> audit() const;

 private:
  void erase_audit_locked(const std::string& ns);

  controller_metrics& metrics_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> errors_;  // namespace -> "status: message"
  std::map<std::string, audit_report> audit_;
  std::size_t audit_would_apply_ = 0;  // the sum over audit_, kept as it changes
};

}  // namespace mlnetpol::controller
