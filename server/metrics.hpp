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
#include <utility>

#include "common/obs/metrics.hpp"
#include "policy/kinds.hpp"

namespace mlnetpol::server {

// Why a new connection was closed at once (mlnetpol_connections_rejected_total{reason}).
enum class connection_refusal { max_connections, max_connections_per_peer };
inline constexpr std::size_t connection_refusals = 2;
// What an evicted connection was doing (mlnetpol_connections_evicted_total{state}): waiting for
// its TLS handshake or for its next request (closed at once), or in a request (closed after its
// response).
enum class eviction_state { tls_handshake, idle, busy };
inline constexpr std::size_t eviction_states = 3;

class metrics {
 public:
  // One webhook path's series. Its route finds them once (webhook()) and then counts a request
  // with relaxed atomics: no lookup by name, no key string, no lock after each series' first use.
  class webhook_series {
   public:
    void observe(std::string_view kind, std::string_view operation, std::string_view decision,
                 double seconds);

   private:
    friend class metrics;
    static constexpr std::size_t operations = 6;  // "", CREATE, UPDATE, DELETE, CONNECT, other
    static constexpr std::size_t decisions = 9;   // "", the six outcomes, error, other
    webhook_series(obs::labeled_counter& family, std::string name)
        : family_(family), name_(std::move(name)) {}
    obs::labeled_counter& family_;  // mlnetpol_admission_requests_total
    std::string name_;
    obs::histogram duration_;
    // The family's series by (kind, operation, decision) label index, found at first use.
    std::array<std::atomic<std::atomic<std::uint64_t>*>,
               policy::kind_label_count * operations * decisions>
        requests_{};
  };

  // The series of a webhook path, created at its first use; they live as long as this object. Its
  // duration histogram is exported once it has observed a request.
  webhook_series& webhook(std::string_view name);

  void observe_admission(std::string_view webhook, std::string_view kind,
                         std::string_view operation, std::string_view decision, double seconds) {
    this->webhook(webhook).observe(kind, operation, decision, seconds);
  }
  void count_violation(std::string_view rule, std::string_view mode);
  void count_http(unsigned code);
  void add_in_flight(int delta) { in_flight_.add(delta); }
  void count_tls_handshake_error() { tls_handshake_errors_.add(); }
  void count_connection_rejected(connection_refusal why) {
    connections_rejected_[static_cast<std::size_t>(why)].add();
  }
  void count_connection_evicted(eviction_state state) {
    connections_evicted_[static_cast<std::size_t>(state)].add();
  }
  void count_log_line_suppressed() { log_lines_suppressed_.add(); }
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
  std::uint64_t connections_rejected() const;  // for any reason
  std::uint64_t connections_rejected(connection_refusal why) const {
    return connections_rejected_[static_cast<std::size_t>(why)].value();
  }
  std::uint64_t connections_evicted() const;  // in any state
  std::uint64_t connections_evicted(eviction_state state) const {
    return connections_evicted_[static_cast<std::size_t>(state)].value();
  }
  std::uint64_t log_lines_suppressed() const { return log_lines_suppressed_.value(); }
  double certificate_expiry() const { return certificate_expiry_.value(); }
  // Unix seconds of the last pair put in force (set with the expiry: both mean a good load).
  double certificate_reload() const { return certificate_reload_.value(); }

  // Appends the families in the text format (what the registry collects).
  void render(std::string& out) const;
  std::string render() const;

 private:
  static constexpr std::size_t known_rules = 9;  // the label engine's and guardrails' rules
  static constexpr std::size_t known_modes = 3;  // enforce, warn, audit

  obs::labeled_counter admission_{"webhook", "kind", "operation", "decision"};
  obs::labeled_counter violations_{"rule", "mode"};
  // violations_' series of the known rules and modes, found at first use.
  std::array<std::atomic<std::atomic<std::uint64_t>*>, known_rules * known_modes>
      violation_series_{};
  mutable std::mutex webhooks_mutex_;
  // One entry per webhook path, created at first use; never removed.
  std::map<std::string, std::unique_ptr<webhook_series>, std::less<>> webhooks_;
  std::array<std::atomic<std::uint64_t>, 600> http_{};
  obs::gauge<std::int64_t> in_flight_;
  obs::counter tls_handshake_errors_;
  std::array<obs::counter, connection_refusals> connections_rejected_;
  std::array<obs::counter, eviction_states> connections_evicted_;
  obs::counter log_lines_suppressed_;
  obs::gauge<double> certificate_expiry_;
  obs::gauge<double> certificate_reload_;
};

}  // namespace mlnetpol::server
