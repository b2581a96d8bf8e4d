#pragma once
// The admission webhook server: an HTTPS listener for the API server and an optional plain-HTTP
// listener for probes and scrapes. It knows handlers, not the engine: `serve` wires the policy
// engine in through `routes` and `config_hooks`; the tests wire in their own.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "admission/review.hpp"
#include "policy/config.hpp"
#include "server/metrics.hpp"
#include "server/options.hpp"

namespace mlnetpol::server {

struct routes {
  admission::handler* mutate = nullptr;    // POST /mutate
  admission::handler* validate = nullptr;  // POST /validate
};

// What GET /status and the policy gauges show for a configuration.
struct policy_status {
  std::string json;
  policy_gauges gauges;
};

struct config_hooks {
  // Called with the configuration at start and after every good reload (on an I/O thread); puts it
  // in force and returns what /status shows. Must not throw.
  std::function<policy_status(const policy::config&)> apply;
  // Optional, from the controller: GET /status answers live() instead of apply's JSON; /readyz
  // also waits for not_ready() to return "" ; /metrics appends extra_metrics().
  std::function<std::string()> live_status;
  std::function<std::string()> not_ready;
  std::function<std::string()> extra_metrics;
};

class server {
 public:
  server(boost::asio::io_context& io, options opts, routes r, config_hooks hooks);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Loads the configuration (--config, else the embedded defaults) and the certificate, binds both
  // listeners and starts accepting. Throws std::runtime_error with a readable reason (bad config
  // file, bad certificate, address in use); nothing is listening then.
  void start();

  std::uint16_t port() const;          // the bound HTTPS port (useful with --port 0)
  std::uint16_t metrics_port() const;  // 0 when the metrics listener is disabled
  bool ready() const;                  // what GET /readyz answers

  // Puts a serving pair given as PEM in force for new handshakes (--cert-management=self, where
  // the options name no files); "" or why it was rejected (the pair in force stays).
  std::string set_certificate(std::string_view cert_pem, std::string_view key_pem);

  // Re-reads the certificate pair and the configuration file now (SIGHUP); the poll does the same.
  void reload_now();

  // SIGTERM/SIGINT: readiness turns false, the listener closes, idle keep-alive connections close,
  // requests in flight finish (up to --shutdown-grace), then the io_context is stopped so run()
  // returns. Thread-safe and idempotent.
  void begin_shutdown();

  mlnetpol::server::metrics& stats();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace mlnetpol::server
