#include "server/metrics.hpp"

#include <algorithm>
#include <array>

#include "admission/review.hpp"
#include "policy/decision.hpp"
#include "policy/guardrails.hpp"
#include "policy/kinds.hpp"

namespace mlnetpol::server {
namespace {

using obs::append_family_header;
using obs::append_number;
using obs::append_single;

// Label values from closed sets, each numbered by its place; anything else is "other", numbered
// after the known values.
constexpr std::array<std::string_view, 5> known_operations{"", "CREATE", "UPDATE", "DELETE",
                                                           "CONNECT"};
constexpr std::array<std::string_view, 8> known_decisions{
    "",
    policy::to_string(policy::outcome::allowed),
    policy::to_string(policy::outcome::patched),
    policy::to_string(policy::outcome::denied),
    policy::to_string(policy::outcome::warned),
    policy::to_string(policy::outcome::audited),
    policy::to_string(policy::outcome::exempt),
    admission::decision_error};
constexpr std::array<std::string_view, 9> known_rule_names{
    policy::rule_workload_type_missing,      policy::rule_workload_type_not_allowed,
    policy::rule_host_network,               policy::rule_managed_policy,
    policy::rule_namespace_label,            policy::rule_label_via_status,
    policy::rule_tenant_egress_all,          policy::rule_tenant_ingress_all,
    policy::rule_tenant_exception_undocumented};
constexpr std::array<std::string_view, 3> known_mode_names{
    policy::to_string(policy::enforcement_mode::enforce),
    policy::to_string(policy::enforcement_mode::warn),
    policy::to_string(policy::enforcement_mode::audit)};

constexpr std::array<std::string_view, connection_refusals> refusal_labels{
    "max_connections", "max_connections_per_peer"};
constexpr std::array<std::string_view, eviction_states> eviction_labels{"tls_handshake", "idle",
                                                                        "busy"};

// A counter family with one series per value of a closed set, every one always exported.
template <std::size_t N>
void append_closed_set(std::string& out, std::string_view name, std::string_view help,
                       std::string_view label, const std::array<std::string_view, N>& values,
                       const std::array<obs::counter, N>& counters) {
  append_family_header(out, name, "counter", help);
  for (std::size_t i = 0; i < N; ++i)
    obs::append_sample(out, name, label, values[i], counters[i].value());
}

template <std::size_t N>
std::size_t index_in(const std::array<std::string_view, N>& known, std::string_view value) {
  return static_cast<std::size_t>(std::find(known.begin(), known.end(), value) - known.begin());
}

template <std::size_t N>
std::string_view label_at(const std::array<std::string_view, N>& known, std::size_t index) {
  return index < N ? known[index] : "other";
}

// The series in slot, looked up in family at its first use (two threads may both look it up;
// they get the same series).
std::atomic<std::uint64_t>& cached_series(std::atomic<std::atomic<std::uint64_t>*>& slot,
                                          obs::labeled_counter& family,
                                          std::initializer_list<std::string_view> label_values) {
  std::atomic<std::uint64_t>* series = slot.load(std::memory_order_acquire);
  if (series == nullptr) {
    series = &family.series(label_values);
    slot.store(series, std::memory_order_release);
  }
  return *series;
}

}  // namespace

void metrics::webhook_series::observe(std::string_view kind, std::string_view operation,
                                      std::string_view decision, double seconds) {
  static_assert(operations == known_operations.size() + 1);
  static_assert(decisions == known_decisions.size() + 1);
  const std::size_t k = policy::kind_label_index(kind);
  const std::size_t o = index_in(known_operations, operation);
  const std::size_t d = index_in(known_decisions, decision);
  auto& slot = requests_[(k * operations + o) * decisions + d];
  cached_series(slot, family_,
                {name_, policy::kind_label(kind), label_at(known_operations, o),
                 label_at(known_decisions, d)})
      .fetch_add(1, std::memory_order_relaxed);
  duration_.observe(seconds);
}

metrics::webhook_series& metrics::webhook(std::string_view name) {
  std::lock_guard lock(webhooks_mutex_);
  if (auto it = webhooks_.find(name); it != webhooks_.end()) return *it->second;
  auto series = std::unique_ptr<webhook_series>(new webhook_series(admission_, std::string(name)));
  return *webhooks_.emplace(std::string(name), std::move(series)).first->second;
}

void metrics::count_violation(std::string_view rule, std::string_view mode) {
  static_assert(known_rules == known_rule_names.size() && known_modes == known_mode_names.size());
  const std::size_t r = index_in(known_rule_names, rule);
  const std::size_t m = index_in(known_mode_names, mode);
  if (r == known_rules || m == known_modes) {
    violations_.add({rule, mode});
    return;
  }
  cached_series(violation_series_[r * known_modes + m], violations_, {rule, mode})
      .fetch_add(1, std::memory_order_relaxed);
}

void metrics::count_http(unsigned code) {
  if (code < http_.size()) http_[code].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t metrics::connections_rejected() const {
  std::uint64_t n = 0;
  for (const auto& c : connections_rejected_) n += c.value();
  return n;
}

std::uint64_t metrics::connections_evicted() const {
  std::uint64_t n = 0;
  for (const auto& c : connections_evicted_) n += c.value();
  return n;
}

std::uint64_t metrics::http_requests(unsigned code) const {
  return code < http_.size() ? http_[code].load(std::memory_order_relaxed) : 0;
}

std::uint64_t metrics::admission_requests(std::string_view webhook, std::string_view kind,
                                          std::string_view operation,
                                          std::string_view decision) const {
  return admission_.value({webhook, kind, operation, decision});
}

std::uint64_t metrics::violations(std::string_view rule, std::string_view mode) const {
  return violations_.value({rule, mode});
}

void metrics::render(std::string& out) const {
  append_family_header(
      out, "mlnetpol_admission_requests_total", "counter",
      "AdmissionReview requests answered, by webhook, kind, operation and decision.");
  admission_.render(out, "mlnetpol_admission_requests_total");
  append_family_header(
      out, "mlnetpol_admission_duration_seconds", "histogram",
      "Time from the complete request body to the encoded AdmissionReview response.");
  {
    std::lock_guard lock(webhooks_mutex_);
    std::string labels;
    for (const auto& [webhook, series] : webhooks_) {
      if (series->duration_.count() == 0) continue;  // found by its route, no request yet
      labels = "webhook=\"";
      obs::append_label_value(labels, webhook);
      labels += '"';
      series->duration_.render(out, "mlnetpol_admission_duration_seconds", labels);
    }
  }
  append_family_header(out, "mlnetpol_policy_violations_total", "counter",
                       "Label policy violations found, by rule and enforcement mode.");
  violations_.render(out, "mlnetpol_policy_violations_total");
  append_family_header(out, "mlnetpol_http_requests_total", "counter",
                       "HTTP responses sent, by status code.");
  for (unsigned code = 0; code < http_.size(); ++code) {
    const auto n = http_[code].load(std::memory_order_relaxed);
    if (n == 0) continue;
    obs::append_sample(out, "mlnetpol_http_requests_total", "code", std::to_string(code), n);
  }
  append_single(out, "mlnetpol_in_flight_requests", "gauge", "Requests being processed now.",
                in_flight());
  append_single(out, "mlnetpol_tls_handshake_errors_total", "counter",
                "TLS handshakes that failed or timed out.", tls_handshake_errors());
  append_closed_set(out, "mlnetpol_connections_rejected_total",
                    "New connections closed at once: --max-connections open and none waiting on "
                    "its client, or --max-connections-per-peer open from the same address.",
                    "reason", refusal_labels, connections_rejected_);
  append_closed_set(out, "mlnetpol_connections_evicted_total",
                    "Open connections closed to make room for a new one at --max-connections, "
                    "oldest waiting on its client first, by what each was doing.",
                    "state", eviction_labels, connections_evicted_);
  append_single(out, "mlnetpol_decision_log_lines_suppressed_total", "counter",
                "Decision log lines left out by --log-denies-per-second (the next line says how "
                "many).",
                log_lines_suppressed());
  append_single(out, "mlnetpol_certificate_expiry_timestamp_seconds", "gauge",
                "notAfter of the serving certificate in use, as a Unix timestamp.",
                certificate_expiry());
  append_single(out, "mlnetpol_certificate_last_reload_success_timestamp_seconds", "gauge",
                "When the serving certificate in use was put in force, as a Unix timestamp.",
                certificate_reload());
}

std::string metrics::render() const {
  std::string out;
  out.reserve(8192);
  render(out);
  return out;
}

}  // namespace mlnetpol::server
