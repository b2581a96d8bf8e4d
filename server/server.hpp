#pragma once
// The admission webhook server: an HTTPS listener for the API server and an optional plain-HTTP
// listener for probes and scrapes. It knows handlers (through its mux), not the engine or the
// configuration: app/ registers the webhooks and decides what happens once the server drained.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "common/obs/metrics.hpp"
#include "server/metrics.hpp"
#include "server/mux.hpp"
#include "server/options.hpp"

namespace mlnetpol::server {

class server {
 public:
  // The server registers its metric families in `registry` and serves registry.render() on
  // /metrics; the registry must outlive the server.
  server(boost::asio::io_context& io, options opts, obs::registry& registry);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Register routes here before start(): routes().handle("/mutate", handler).
  mux& routes();

  // Something else the server's readiness waits for: returns why it is not ready, empty when it
  // is. Add before start(); called from I/O threads.
  void add_readiness_check(std::function<std::string()> check);

  // Loads the certificate, binds both listeners and starts accepting. Throws std::runtime_error
  // with a readable reason (bad certificate, address in use); nothing is listening then.
  void start();

  std::uint16_t port() const;          // the bound HTTPS port (useful with --port 0)
  std::uint16_t metrics_port() const;  // 0 when the metrics listener is disabled
  bool ready() const;                  // what GET /readyz answers

  // Puts a serving pair given as PEM in force for new handshakes (--cert-management=self, where
  // the options name no files); "" or why it was rejected (the pair in force stays).
  std::string set_certificate(std::string_view cert_pem, std::string_view key_pem);

  // Re-reads the certificate pair now (SIGHUP); the poll does the same.
  void reload_certificate_now();

  // SIGTERM: readiness turns false, the webhook listener closes, requests in flight finish with
  // Connection: close, idle keep-alive connections close once idle for the drain window (a request
  // arriving meanwhile is answered; all up to --shutdown-grace), then the metrics listener closes
  // and `drained` runs once on an I/O thread. The server never stops the io_context: its owner
  // does, after whatever else must stop in between. Thread-safe and idempotent (later callbacks are
  // dropped).
  void begin_shutdown(std::function<void()> drained = {});

  mlnetpol::server::metrics& stats();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace mlnetpol::server
