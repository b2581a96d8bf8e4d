#include "server/server.hpp"

#include <atomic>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "common/obs/logging.hpp"
#include "server/admin_routes.hpp"
#include "server/cert_watcher.hpp"
#include "server/listener.hpp"
#include "server/session.hpp"

namespace mlnetpol::server {

namespace logging = obs::logging;
namespace net = boost::asio;
using spdlog::level::level_enum;

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io, options o, obs::registry& registry)
      : io_(io),
        registry_(registry),
        state_(std::make_shared<server_state>(std::move(o))),
        certs_(std::make_shared<cert_watcher>(
            io, state_->opts.tls_cert_file, state_->opts.tls_key_file, state_->opts.reload_interval,
            state_->stats, state_->opts.client_ca_file)),
        webhook_(std::make_shared<listener>(io, state_, listener_kind::webhook,
                                            [c = certs_] { return c->current(); })),
        metrics_(std::make_shared<listener>(io, state_, listener_kind::metrics, nullptr)) {}

  net::io_context& io_;
  obs::registry& registry_;
  // --threads N > 1: N io_contexts, one thread each, the connections spread over them in turn (as
  // nginx spreads them over its workers): a request's handlers stay on one thread, and no
  // scheduler lock, strand or wake-up is shared between the threads.
  std::vector<std::unique_ptr<net::io_context>> workers_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> worker_guards_;
  std::vector<std::thread> worker_threads_;
  std::shared_ptr<server_state> state_;
  obs::registry::registration metrics_registration_;
  std::shared_ptr<cert_watcher> certs_;
  std::shared_ptr<listener> webhook_;
  std::shared_ptr<listener> metrics_;
  std::vector<std::function<std::string()>> readiness_checks_;
  std::atomic<bool> started_{false};
  std::mutex drained_mutex_;
  std::function<void()> drained_;

  std::string not_ready_reason() const {
    if (state_->draining.load()) return "shutting down";
    if (!started_.load()) return "starting";
    for (const auto& check : readiness_checks_) {
      if (std::string why = check(); !why.empty()) return why;
    }
    if (!certs_->loaded()) return "no certificate loaded";
    return {};
  }

  void drain() {
    logging::event(
        level_enum::info, "shutting down: not ready, listener closed, draining",
        {{"open_connections", static_cast<std::uint64_t>(webhook_->open_connections())},
         {"grace_seconds", std::chrono::duration<double>(state_->opts.shutdown_grace).count()}});
    certs_->stop();
    webhook_->drain(state_->opts.shutdown_grace,
                    // Weak: the listener keeps the callback, and this impl keeps the listener.
                    [weak = weak_from_this()](std::string_view why) {
                      if (auto self = weak.lock()) self->finish(why);
                    });
  }

  void finish(std::string_view why) {
    metrics_->close();
    logging::event(level_enum::info, "drained", {{"reason", why}});
    std::function<void()> drained;
    {
      std::lock_guard lock(drained_mutex_);
      drained = std::move(drained_);
    }
    if (drained) drained();
  }
};

server::server(net::io_context& io, options opts, obs::registry& registry)
    : impl_(std::make_shared<impl>(io, std::move(opts), registry)) {
  const unsigned threads = impl_->state_->opts.threads;
  if (threads > 1) {
    for (unsigned i = 0; i < threads; ++i) {
      auto& worker = impl_->workers_.emplace_back(std::make_unique<net::io_context>(1));
      impl_->worker_guards_.push_back(net::make_work_guard(*worker));
      impl_->state_->connection_executors.push_back(worker->get_executor());
    }
  }
  impl_->metrics_registration_ =
      registry.add([state = impl_->state_](std::string& out) { state->stats.render(out); });
  add_admin_routes(impl_->state_->routes, {[i = impl_.get()] { return i->not_ready_reason(); },
                                           [i = impl_.get()] { return i->registry_.render(); }});
}

server::~server() {
  impl_->webhook_->close();
  impl_->metrics_->close();
  impl_->certs_->stop();
  // Connections still open (a stop without draining) end with their io_context.
  for (auto& worker : impl_->workers_) worker->stop();
  for (auto& t : impl_->worker_threads_) t.join();
  impl_->worker_guards_.clear();
  impl_->workers_.clear();
}

mux& server::routes() {
  return impl_->state_->routes;
}

void server::add_readiness_check(std::function<std::string()> check) {
  impl_->readiness_checks_.push_back(std::move(check));
}

void server::start() {
  auto& s = *impl_;
  const options& opts = s.state_->opts;
  // OpenSSL writes to the sockets itself (tls_stream), without MSG_NOSIGNAL: a peer that went away
  // must be an EPIPE error, not a signal that kills the process. Servers ignore SIGPIPE anyway.
  std::signal(SIGPIPE, SIG_IGN);
  s.certs_->load();
  s.webhook_->listen(opts.bind_address, opts.port, "webhook listener");
  if (opts.metrics_bind_address != "0") {
    std::string host;
    std::uint16_t port = 0;
    if (!split_host_port(opts.metrics_bind_address, host, port)) {
      throw std::runtime_error("--metrics-bind-address: not host:port: '" +
                               opts.metrics_bind_address + "'");
    }
    s.metrics_->listen(host, port, "metrics listener");
  }
  s.started_.store(true);
  logging::event(level_enum::info, "serving",
                 {{"address", opts.bind_address},
                  {"port", static_cast<int>(s.webhook_->port())},
                  {"metrics_port", static_cast<int>(s.metrics_->port())},
                  {"threads", static_cast<int>(opts.threads)}});
  for (auto& worker : s.workers_) {
    s.worker_threads_.emplace_back([w = worker.get()] { w->run(); });
  }
  s.webhook_->start();
  if (s.metrics_->is_open()) s.metrics_->start();
  s.certs_->start();
}

std::uint16_t server::port() const {
  return impl_->webhook_->port();
}
std::uint16_t server::metrics_port() const {
  return impl_->metrics_->port();
}

bool server::ready() const {
  return impl_->not_ready_reason().empty();
}

std::string server::set_certificate(std::string_view cert_pem, std::string_view key_pem) {
  return impl_->certs_->set_pem(cert_pem, key_pem);
}

void server::reload_certificate_now() {
  impl_->certs_->reload_now();
}

void server::begin_shutdown(std::function<void()> drained) {
  if (impl_->state_->draining.exchange(true)) return;
  {
    std::lock_guard lock(impl_->drained_mutex_);
    impl_->drained_ = std::move(drained);
  }
  net::post(impl_->io_, [self = impl_] { self->drain(); });
}

metrics& server::stats() {
  return impl_->state_->stats;
}

}  // namespace mlnetpol::server
