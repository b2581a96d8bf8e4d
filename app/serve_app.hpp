#pragma once
// `serve` composed: the webhook server, the configuration watcher and the runnables (the
// controller) on one io_context, and the order they stop in: drain the server, stop the
// configuration watcher and the runnables (last added first), then stop the io_context.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "app/runnable.hpp"
#include "app/serve_metrics.hpp"
#include "common/obs/metrics.hpp"
#include "policy/config.hpp"
#include "server/metrics.hpp"
#include "server/options.hpp"
#include "server/server.hpp"

namespace mlnetpol::app {

// What GET /status and the policy gauges show for a configuration.
struct policy_status {
  std::string json;
  policy_gauges gauges;
};

class serve_app {
 public:
  // Called with the configuration at start and after every good reload (on an I/O thread); puts
  // it in force and returns what /status shows. Must not throw.
  using apply_fn = std::function<policy_status(const policy::config&)>;

  serve_app(boost::asio::io_context& io, server::options opts, apply_fn apply);
  ~serve_app();
  serve_app(const serve_app&) = delete;
  serve_app& operator=(const serve_app&) = delete;

  server::mux& routes();           // register the webhooks here, before start()
  void add_runnable(runnable& r);  // before start(); must outlive this object
  // /readyz answers 503 with the reason while check() returns one (e.g. a cache not synced).
  void add_readiness_check(std::function<std::string()> check);
  // GET /status answers source() when it returns a document (the controller's, counted from the
  // cluster), else the configuration's own summary.
  void set_status_source(std::function<std::string()> source);

  // Loads the configuration, starts the server, then the runnables. Throws std::runtime_error
  // with a readable reason; nothing is listening then.
  void start();

  // A serving pair as PEM (self-managed certificates); "" or why it was rejected.
  std::string set_certificate(std::string_view cert_pem, std::string_view key_pem);

  // SIGHUP: re-reads the certificate and the configuration now.
  void reload_now();

  // SIGTERM: the shutdown order above. Thread-safe and idempotent.
  void begin_shutdown();

  std::uint16_t port() const;
  std::uint16_t metrics_port() const;
  bool ready() const;
  server::metrics& stats();  // the server's families
  std::uint64_t config_reload_failures() const;
  obs::registry& metrics_registry();  // other owners (the controller) register theirs here

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace mlnetpol::app
