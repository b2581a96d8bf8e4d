#include "server/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace mlnetpol::server {
namespace {

constexpr char key_separator = '\x1f';  // cannot appear in a Kubernetes kind, operation or rule

void append_number(std::string& out, double v) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
  out.append(buf, result.ptr);
}

void append_number(std::string& out, std::uint64_t v) {
  out += std::to_string(v);
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <typename T>
void gauge(std::string& out, std::string_view name, std::string_view help, T value,
           std::string_view type = "gauge") {
  header(out, name, type, help);
  out += name;
  out += ' ';
  append_number(out, value);
  out += '\n';
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

labeled_counter::labeled_counter(std::initializer_list<std::string_view> label_names) {
  for (auto n : label_names) names_.emplace_back(n);
}

void labeled_counter::make_key(std::string& key, std::initializer_list<std::string_view> values) {
  key.clear();
  for (auto v : values) {
    key += v;
    key += key_separator;
  }
}

void labeled_counter::add(std::initializer_list<std::string_view> label_values, std::uint64_t n) {
  thread_local std::string key;
  make_key(key, label_values);
  std::lock_guard lock(mutex_);
  if (auto it = values_.find(std::string_view(key)); it != values_.end()) {
    it->second += n;
  } else {
    values_.emplace(key, n);
  }
}

std::uint64_t labeled_counter::value(std::initializer_list<std::string_view> label_values) const {
  std::string key;
  make_key(key, label_values);
  std::lock_guard lock(mutex_);
  auto it = values_.find(std::string_view(key));
  return it == values_.end() ? 0 : it->second;
}

void labeled_counter::render(std::string& out, std::string_view name) const {
  std::vector<std::pair<std::string, std::uint64_t>> rows;
  {
    std::lock_guard lock(mutex_);
    rows.assign(values_.begin(), values_.end());
  }
  std::sort(rows.begin(), rows.end());
  for (const auto& [key, count] : rows) {
    out += name;
    out += '{';
    std::size_t start = 0;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const std::size_t end = key.find(key_separator, start);
      if (i) out += ',';
      out += names_[i];
      out += "=\"";
      append_label_value(out, std::string_view(key).substr(start, end - start));
      out += '"';
      start = end + 1;
    }
    out += "} ";
    append_number(out, count);
    out += '\n';
  }
}

void histogram::observe(double seconds) {
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  if (it != bounds.end()) {
    buckets_[static_cast<std::size_t>(it - bounds.begin())].fetch_add(1, std::memory_order_relaxed);
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += name;
    out += "_bucket{";
    out += labels;
    out += ",le=\"";
    out += bound_labels[i];
    out += "\"} ";
    append_number(out, cumulative);
    out += '\n';
  }
  const std::uint64_t total = count();
  out += name;
  out += "_bucket{";
  out += labels;
  out += ",le=\"+Inf\"} ";
  append_number(out, total);
  out += '\n';
  out += name;
  out += "_sum{";
  out += labels;
  out += "} ";
  append_number(out, static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  out += '\n';
  out += name;
  out += "_count{";
  out += labels;
  out += "} ";
  append_number(out, total);
  out += '\n';
}

void metrics::observe_admission(std::string_view webhook, std::string_view kind,
                                std::string_view operation, std::string_view decision,
                                double seconds) {
  admission_.add({webhook, kind, operation, decision});
  duration_[webhook == "mutate" ? 0 : 1].observe(seconds);
}

void metrics::count_violation(std::string_view rule, std::string_view mode) {
  violations_.add({rule, mode});
}

void metrics::count_http(unsigned code) {
  if (code < http_.size()) http_[code].fetch_add(1, std::memory_order_relaxed);
}

void metrics::set_certificate_expiry(double unix_seconds) {
  certificate_expiry_.store(unix_seconds);
}

void metrics::set_policy_gauges(const policy_gauges& g) {
  std::lock_guard lock(gauges_mutex_);
  gauges_ = g;
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

std::string metrics::render() const {
  std::string out;
  out.reserve(8192);
  header(out, "mlnetpol_admission_requests_total", "counter",
         "AdmissionReview requests answered, by webhook, kind, operation and decision.");
  admission_.render(out, "mlnetpol_admission_requests_total");
  header(out, "mlnetpol_admission_duration_seconds", "histogram",
         "Time from the complete request body to the encoded AdmissionReview response.");
  duration_[0].render(out, "mlnetpol_admission_duration_seconds", "webhook=\"mutate\"");
  duration_[1].render(out, "mlnetpol_admission_duration_seconds", "webhook=\"validate\"");
  header(out, "mlnetpol_policy_violations_total", "counter",
         "Label policy violations found, by rule and enforcement mode.");
  violations_.render(out, "mlnetpol_policy_violations_total");
  header(out, "mlnetpol_http_requests_total", "counter", "HTTP responses sent, by status code.");
  for (unsigned code = 0; code < http_.size(); ++code) {
    const auto n = http_[code].load(std::memory_order_relaxed);
    if (n == 0) continue;
    out += "mlnetpol_http_requests_total{code=\"";
    out += std::to_string(code);
    out += "\"} ";
    append_number(out, n);
    out += '\n';
  }
  header(out, "mlnetpol_in_flight_requests", "gauge", "Requests being processed now.");
  out += "mlnetpol_in_flight_requests " + std::to_string(in_flight()) + "\n";
  gauge(out, "mlnetpol_tls_handshake_errors_total", "TLS handshakes that failed or timed out.",
        tls_handshake_errors(), "counter");
  gauge(out, "mlnetpol_connections_rejected_total",
        "Connections closed at once because --max-connections were open.", connections_rejected(),
        "counter");
  gauge(out, "mlnetpol_certificate_expiry_timestamp_seconds",
        "notAfter of the serving certificate in use, as a Unix timestamp.", certificate_expiry());
  gauge(out, "mlnetpol_config_reload_failures_total",
        "Configuration reloads rejected (the last good configuration stays in force).",
        config_reload_failures(), "counter");
  policy_gauges g;
  {
    std::lock_guard lock(gauges_mutex_);
    g = gauges_;
  }
  gauge(out, "mlnetpol_secured_namespaces", "Namespaces the configuration secures.",
        static_cast<std::uint64_t>(g.secured_namespaces));
  gauge(out, "mlnetpol_policy_count", "Network policies the configuration renders.",
        static_cast<std::uint64_t>(g.policy_count));
  gauge(out, "mlnetpol_cilium_mode_enabled", "1 when CiliumNetworkPolicies are rendered.",
        static_cast<std::uint64_t>(g.cilium_mode_enabled));
  gauge(out, "mlnetpol_ml_policies_enabled", "1 when the ML workload policies are enabled.",
        static_cast<std::uint64_t>(g.ml_policies_enabled));
  return out;
}

}  // namespace mlnetpol::server
