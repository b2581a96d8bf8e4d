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
  void add_in_flight(int delta) { in_flight_.add(delta); }
  void count_tls_handshake_error() { tls_handshake_errors_.add(); }
  void count_connection_rejected() { connections_rejected_.add(); }
  // A pair was put in force: its notAfter, and now as the last successful reload.
  void set_certificate_expiry(double unix_seconds) {
    certificate_expiry_.set(unix_seconds);
    certificate_reload_.set(obs::unix_seconds_now());
  }

  std::uint64_t http_requests(unsigned code) const;
  std::uint64_t admission_requests(std::string_view webhook, std::string_view kind,
                                   std::string_view operation, std::string_view decision) const;
  std::size_t admission_series() const { return admission_.series(); }
  std::uint64_t violations(std::string_view rule, std::string_view mode) const;
  std::int64_t in_flight() const { return in_flight_.value(); }
  std::uint64_t tls_handshake_errors() const { return tls_handshake_errors_.value(); }
  std::uint64_t connections_rejected() const { return connections_rejected_.value(); }
  double certificate_expiry() const { return certificate_expiry_.value(); }
  // Unix seconds of the last pair put in force (set with the expiry: both mean a good load).
  double certificate_reload() const { return certificate_reload_.value(); }

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
  obs::gauge<std::int64_t> in_flight_;
  obs::counter tls_handshake_errors_;
  obs::counter connections_rejected_;
  obs::gauge<double> certificate_expiry_;
  obs::gauge<double> certificate_reload_;
};

}  // namespace mlnetpol::server
