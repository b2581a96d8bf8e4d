#pragma once
// The server's metric families: admission requests and their latency, violations, HTTP codes,
// in-flight requests, TLS and connection errors, the certificate expiry. Registered in the app's
// obs::registry; label values come from closed sets (request data maps to "other").
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/obs/metrics.hpp"

namespace mlnetpol::server {

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
  void count_connection_rejected() {
    connections_rejected_.fetch_add(1, std::memory_order_relaxed);
  }
  void set_certificate_expiry(double unix_seconds);

  std::uint64_t http_requests(unsigned code) const;
  std::uint64_t admission_requests(std::string_view webhook, std::string_view kind,
                                   std::string_view operation, std::string_view decision) const;
  std::size_t admission_series() const { return admission_.series(); }
  std::uint64_t violations(std::string_view rule, std::string_view mode) const;
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::uint64_t tls_handshake_errors() const { return tls_handshake_errors_.load(); }
  std::uint64_t connections_rejected() const { return connections_rejected_.load(); }
  double certificate_expiry() const { return certificate_expiry_.load(); }
  // Unix seconds of the last pair put in force (set with the expiry: both mean a good load).
  double certificate_reload() const { return certificate_reload_.load(); }

  // Appends the families in the text format (what the registry collects).
  void render(std::string& out) const;
  std::string render() const;

 private:
  obs::histogram& duration(std::string_view webhook);

  obs::labeled_counter admission_{"webhook", "kind", "operation", "decision"};
  obs::labeled_counter violations_{"rule", "mode"};
  mutable std::mutex durations_mutex_;
  // One histogram per webhook path, created at its first request; never removed.
  std::map<std::string, std::unique_ptr<obs::histogram>, std::less<>> durations_;
  std::array<std::atomic<std::uint64_t>, 600> http_{};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> tls_handshake_errors_{0};
  std::atomic<std::uint64_t> connections_rejected_{0};
  std::atomic<double> certificate_expiry_{0};
  std::atomic<double> certificate_reload_{0};
};

}  // namespace mlnetpol::server
