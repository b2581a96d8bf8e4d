#include "app/serve_app.hpp"

#include <atomic>
#include <chrono>
#include <mutex>

#include "app/config_watcher.hpp"
#include "app/memory_release.hpp"
#include "common/obs/logging.hpp"
#include "common/obs/process_metrics.hpp"

namespace mlnetpol::app {

namespace logging = obs::logging;
using spdlog::level::level_enum;

struct serve_app::impl : std::enable_shared_from_this<serve_app::impl> {
  impl(boost::asio::io_context& io, server::options opts, apply_fn apply)
      : io_(io),
        config_file_(opts.config_file),
        reload_interval_(opts.reload_interval),
        memory_release_(std::make_shared<memory_release>(io, opts.memory_release_interval)),
        http_(io, std::move(opts), registry_),
        apply_(std::move(apply)) {}

  boost::asio::io_context& io_;
  const std::string config_file_;
  const std::chrono::milliseconds reload_interval_;
  const std::shared_ptr<memory_release> memory_release_;
  obs::registry registry_;  // before http_, which registers in it
  serve_metrics metrics_;
  obs::registry::registration metrics_registration_ =
      registry_.add([this](std::string& out) { metrics_.render(out); });
  obs::registry::registration process_registration_ = registry_.add(obs::append_process_metrics);
  server::server http_;
  const apply_fn apply_;
  std::shared_ptr<config_watcher> config_;
  std::vector<runnable*> runnables_;
  std::mutex runnables_mutex_;
  std::vector<runnable*> started_;  // to stop, in reverse
  std::atomic<bool> stopping_{false};

  mutable std::mutex status_mutex_;
  std::shared_ptr<const std::string> status_json_;

  void apply(const policy::config& cfg) {
    policy_status status = apply_ ? apply_(cfg) : policy_status{};
    metrics_.set_policy_gauges(status.gauges);
    metrics_.mark_config_loaded();
    std::lock_guard lock(status_mutex_);
    status_json_ = std::make_shared<const std::string>(std::move(status.json));
  }

  std::function<std::string()> status_source_;  // set before start(), read-only after

  std::shared_ptr<const std::string> status_json() const {
    if (status_source_) {
      std::string live = status_source_();
      if (!live.empty()) return std::make_shared<const std::string>(std::move(live));
    }
    std::lock_guard lock(status_mutex_);
    return status_json_;
  }

  // After the server drained: the rest stops while the I/O still runs, then the I/O stops.
  void after_drain() {
    config_->stop();
    memory_release_->stop();
    stop_runnables();
    logging::event(level_enum::info, "stopped", {});
    logging::flush();
    io_.stop();
  }

  void stop_runnables() {
    std::vector<runnable*> started;
    {
      std::lock_guard lock(runnables_mutex_);
      started.swap(started_);
    }
    for (auto it = started.rbegin(); it != started.rend(); ++it) {
      logging::event(level_enum::info, "stopping", {{"runnable", (*it)->name()}});
      (*it)->stop();
    }
  }
};

serve_app::serve_app(boost::asio::io_context& io, server::options opts, apply_fn apply)
    : impl_(std::make_shared<impl>(io, std::move(opts), std::move(apply))) {
  auto* i = impl_.get();
  i->config_ = std::make_shared<config_watcher>(
      io, i->config_file_, i->reload_interval_, [i](const policy::config& cfg) { i->apply(cfg); },
      [i] { i->metrics_.count_config_reload_failure(); });
  i->http_.add_readiness_check(
      [i]() -> std::string { return i->config_->loaded() ? "" : "no configuration loaded"; });
  i->http_.routes().handle("/status", "GET", server::listeners::metrics,
                           [i](const server::http_request&, server::http_response& r) {
                             r.content_type = server::text_plain;
                             auto status = i->status_json();
                             if (!status) {
                               r.status = 503;
                               r.body = "no configuration loaded";
                               return;
                             }
                             r.status = 200;
                             r.content_type = "application/json";
                             r.body = *status;
                           });
}

serve_app::~serve_app() {
  impl_->config_->stop();
  impl_->memory_release_->stop();
  impl_->stop_runnables();
}

server::mux& serve_app::routes() {
  return impl_->http_.routes();
}

void serve_app::add_runnable(runnable& r) {
  impl_->runnables_.push_back(&r);
}

void serve_app::add_readiness_check(std::function<std::string()> check) {
  impl_->http_.add_readiness_check(std::move(check));
}

void serve_app::set_status_source(std::function<std::string()> source) {
  impl_->status_source_ = std::move(source);
}

void serve_app::start() {
  impl_->config_->load();
  impl_->http_.start();
  impl_->config_->start();
  impl_->memory_release_->start();
  for (runnable* r : impl_->runnables_) {
    r->start();
    std::lock_guard lock(impl_->runnables_mutex_);
    impl_->started_.push_back(r);
  }
}

std::string serve_app::set_certificate(std::string_view cert_pem, std::string_view key_pem) {
  return impl_->http_.set_certificate(cert_pem, key_pem);
}

void serve_app::reload_now() {
  if (impl_->stopping_.load()) return;
  impl_->http_.reload_certificate_now();
  impl_->config_->reload_now();
}

void serve_app::begin_shutdown() {
  if (impl_->stopping_.exchange(true)) return;
  // Leadership goes to another replica now, not after the drain (which may wait seconds for idle
  // connections' last requests); caches stay for the requests still answered.
  {
    std::lock_guard lock(impl_->runnables_mutex_);
    for (auto it = impl_->started_.rbegin(); it != impl_->started_.rend(); ++it) (*it)->draining();
  }
  impl_->http_.begin_shutdown([self = impl_] { self->after_drain(); });
}

std::uint16_t serve_app::port() const {
  return impl_->http_.port();
}
std::uint16_t serve_app::metrics_port() const {
  return impl_->http_.metrics_port();
}
bool serve_app::ready() const {
  return impl_->http_.ready();
}
server::metrics& serve_app::stats() {
  return impl_->http_.stats();
}
std::uint64_t serve_app::config_reload_failures() const {
  return impl_->metrics_.config_reload_failures();
}
obs::registry& serve_app::metrics_registry() {
  return impl_->registry_;
}

}  // namespace mlnetpol::app
