#include "server/metrics.hpp"

#include <algorithm>
#include <array>

#include "policy/kinds.hpp"

namespace mlnetpol::server {
namespace {

using obs::append_family_header;
using obs::append_number;
using obs::append_single;

std::string_view operation_label(std::string_view op) {
  static constexpr std::array<std::string_view, 5> known{"", "CREATE", "UPDATE", "DELETE",
                                                         "CONNECT"};
  return std::find(known.begin(), known.end(), op) != known.end() ? op : "other";
}

std::string_view decision_label(std::string_view d) {
  static constexpr std::array<std::string_view, 7> known{"",       "allowed", "patched", "denied",
                                                         "warned", "audited", "exempt"};
  if (d == "error") return d;
  return std::find(known.begin(), known.end(), d) != known.end() ? d : "other";
}

}  // namespace

obs::histogram& metrics::duration(std::string_view webhook) {
  std::lock_guard lock(durations_mutex_);
  if (auto it = durations_.find(webhook); it != durations_.end()) return *it->second;
  return *durations_.emplace(std::string(webhook), std::make_unique<obs::histogram>())
              .first->second;
}

void metrics::observe_admission(std::string_view webhook, std::string_view kind,
                                std::string_view operation, std::string_view decision,
                                double seconds) {
  admission_.add(
      {webhook, policy::kind_label(kind), operation_label(operation), decision_label(decision)});
  duration(webhook).observe(seconds);
}

void metrics::count_violation(std::string_view rule, std::string_view mode) {
  violations_.add({rule, mode});
}

void metrics::count_http(unsigned code) {
  if (code < http_.size()) http_[code].fetch_add(1, std::memory_order_relaxed);
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
    std::lock_guard lock(durations_mutex_);
    std::string labels;
    for (const auto& [webhook, h] : durations_) {
      labels = "webhook=\"";
      obs::append_label_value(labels, webhook);
      labels += '"';
      h->render(out, "mlnetpol_admission_duration_seconds", labels);
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
    out += "mlnetpol_http_requests_total{code=\"";
    out += std::to_string(code);
    out += "\"} ";
    append_number(out, n);
    out += '\n';
  }
  append_single(out, "mlnetpol_in_flight_requests", "gauge", "Requests being processed now.",
                in_flight());
  append_single(out, "mlnetpol_tls_handshake_errors_total", "counter",
                "TLS handshakes that failed or timed out.", tls_handshake_errors());
  append_single(out, "mlnetpol_connections_rejected_total", "counter",
                "Connections closed at once because --max-connections were open.",
                connections_rejected());
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
