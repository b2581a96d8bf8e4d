#pragma once
// Prometheus metrics, kept cheap on the request path: relaxed atomics for fixed series, one
// uncontended mutex and no allocation (after the first sighting) for labelled counters.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlnetpol::server {

// A counter family with string labels; label values come from requests, so they are escaped.
class labeled_counter {
 public:
  explicit labeled_counter(std::initializer_list<std::string_view> label_names);
  void add(std::initializer_list<std::string_view> label_values, std::uint64_t n = 1);
  std::uint64_t value(std::initializer_list<std::string_view> label_values) const;
  // Appends `name{a="x",b="y"} N` lines, sorted by labels.
  void render(std::string& out, std::string_view name) const;

 private:
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static void make_key(std::string& key, std::initializer_list<std::string_view> values);
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t, hash, std::equal_to<>> values_;
};

class histogram {
 public:
  static constexpr std::array<double, 14> bounds{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  // The same bounds as `le` label values, written the way people read them.
  static constexpr std::array<std::string_view, 14> bound_labels{
      "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
      "0.025",  "0.05",    "0.1",    "0.25",  "0.5",    "1",     "2.5"};
  void observe(double seconds);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size()> buckets_{};  // non-cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct policy_gauges {
  std::size_t secured_namespaces = 0;
  std::size_t policy_count = 0;
  bool cilium_mode_enabled = false;
  bool ml_policies_enabled = false;
};

class metrics {
 public:
  void observe_admission(std::string_view webhook, std::string_view kind,
                         std::string_view operation, std::string_view decision, double seconds);
  void count_violation(std::string_view rule, std::string_view mode);
  void count_http(unsigned code);
  void add_in_flight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }
  void count_tls_handshake_error() {
    tls_handshake_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  void count_config_reload_failure() {
    config_reload_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  void count_connection_rejected() {
    connections_rejected_.fetch_add(1, std::memory_order_relaxed);
  }
  void set_certificate_expiry(double unix_seconds);
  void set_policy_gauges(const policy_gauges& g);

  std::uint64_t http_requests(unsigned code) const;
  std::uint64_t admission_requests(std::string_view webhook, std::string_view kind,
                                   std::string_view operation, std::string_view decision) const;
  std::uint64_t violations(std::string_view rule, std::string_view mode) const;
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::uint64_t tls_handshake_errors() const { return tls_handshake_errors_.load(); }
  std::uint64_t config_reload_failures() const { return config_reload_failures_.load(); }
  std::uint64_t connections_rejected() const { return connections_rejected_.load(); }
  double certificate_expiry() const { return certificate_expiry_.load(); }

  // The Prometheus text exposition format, version 0.0.4.
  std::string render() const;

 private:
  labeled_counter admission_{"webhook", "kind", "operation", "decision"};
  labeled_counter violations_{"rule", "mode"};
  std::array<histogram, 2> duration_;  // mutate, validate
  std::array<std::atomic<std::uint64_t>, 600> http_{};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> tls_handshake_errors_{0};
  std::atomic<std::uint64_t> config_reload_failures_{0};
  std::atomic<std::uint64_t> connections_rejected_{0};
  std::atomic<double> certificate_expiry_{0};
  mutable std::mutex gauges_mutex_;
  policy_gauges gauges_;
};

// Escapes a label value for the text format (backslash, double quote, newline).
void append_label_value(std::string& out, std::string_view value);

}  // namespace mlnetpol::server
