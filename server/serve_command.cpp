// `mlnetpol serve`: parses the flags, sets up logging, wires the policy engine into the server and
// runs it until SIGTERM/SIGINT; SIGHUP re-reads the certificate and the configuration.
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "admission/policy_handlers.hpp"
#include "app/commands.hpp"
#include "controller/cert_serve.hpp"
#include "controller/serve.hpp"
#include "policy/render/render.hpp"
#include "common/obs/logging.hpp"
#include "server/server.hpp"

namespace mlnetpol::app {

int serve_command(int argc, char** argv) {
  namespace srv = mlnetpol::server;
  namespace logging = mlnetpol::obs::logging;
  controller::cert_flags cert_flags;
  const auto other_args = controller::take_cert_flags({argv + 1, argv + argc}, cert_flags);
  if (!other_args) {
    std::fprintf(stderr, "mlnetpol serve: %s\n", other_args.error().message.c_str());
    return 2;
  }
  controller::serve_flags reconcile_flags;
  const auto server_args = controller::take_serve_flags(*other_args, reconcile_flags);
  if (!server_args) {
    std::fprintf(stderr, "mlnetpol serve: %s\n", server_args.error().message.c_str());
    return 2;
  }
  const auto parsed = srv::parse_serve_args({server_args->begin(), server_args->end()});
  if (parsed.help) {
    std::fputs((srv::serve_usage() + "\n" + controller::serve_flags_usage() + "\n" +
                controller::cert_flags_usage())
                   .c_str(),
               stdout);
    return 0;
  }
  if (!parsed.ok) {
    std::fprintf(stderr, "mlnetpol serve: %s\n", parsed.error.c_str());
    return 2;
  }
  srv::options opts = parsed.value;
  const bool self_managed = cert_flags.mode == controller::cert_mode::self;
  if (self_managed) {
    // The pair comes from the Secret (set_certificate), never from files.
    opts.tls_cert_file.clear();
    opts.tls_key_file.clear();
  }
  logging::setup(opts.format, opts.log_level);

  admission::policy_handlers engine{policy::config{}};
  srv::config_hooks hooks;
  std::unique_ptr<controller::manager> reconciler;
  policy::config first_config;  // server.start() applies it before the reconciler exists
  hooks.apply = [&engine, &reconciler, &first_config](const policy::config& cfg) {
    engine.update_config(cfg);
    if (reconciler) reconciler->update_config(cfg); else first_config = cfg;
    const auto summary = policy::summarize(cfg);
    srv::policy_status status;
    status.json = policy::summary_json(summary);
    status.gauges.secured_namespaces = summary.secured_namespaces.size();
    status.gauges.policy_count = summary.policy_count;
    status.gauges.cilium_mode_enabled = summary.cilium_mode_enabled;
    status.gauges.ml_policies_enabled = summary.ml_policies_enabled;
    return status;
  };

  controller::hook_into(hooks, reconciler);
  std::unique_ptr<controller::cert_manager> certificates;
  if (self_managed) {
    hooks.not_ready = [reconciler_not_ready = hooks.not_ready, &certificates]() -> std::string {
      if (certificates) {
        std::string reason = certificates->not_ready();
        if (!reason.empty()) return reason;
      }
      return reconciler_not_ready ? reconciler_not_ready() : std::string();
    };
    hooks.extra_metrics = [reconciler_metrics = hooks.extra_metrics, &certificates] {
      return (reconciler_metrics ? reconciler_metrics() : std::string()) +
             (certificates ? certificates->metrics_text() : std::string());
    };
  }
  boost::asio::io_context io(static_cast<int>(opts.threads));
  srv::server server(io, opts, srv::routes{&engine.mutate(), &engine.validate()}, hooks);
  try {
    server.start();
    reconciler = controller::start_reconciler(reconcile_flags, first_config);
    if (self_managed) {
      std::function<bool()> is_leader;
      if (reconciler) is_leader = [&reconciler] { return reconciler->leader(); };
      certificates = controller::start_cert_manager(
          cert_flags, reconcile_flags.kubeconfig,
          [&server](const certs::key_pair& pair) {
            return server.set_certificate(pair.cert_pem, pair.key_pem);
          },
          std::move(is_leader));
    }
  } catch (const std::exception& e) {
    logging::event(spdlog::level::err, "cannot start", {{"error", e.what()}});
    logging::flush();
    std::fprintf(stderr, "mlnetpol serve: %s\n", e.what());
    return 1;
  }

  // The first SIGTERM/SIGINT drains; a second one (an impatient Ctrl-C) stops at once.
  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  bool draining = false;
  bool forced = false;
  std::function<void()> wait_stop = [&] {
    stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (draining) {
        logging::event(spdlog::level::warn, "second signal: stopping without draining",
                            {{"signal", signal}});
        forced = true;
        io.stop();
        return;
      }
      draining = true;
      logging::event(spdlog::level::info, "signal received", {{"signal", signal}});
      server.begin_shutdown();
      wait_stop();
    });
  };
  wait_stop();
  boost::asio::signal_set reload_signal(io, SIGHUP);
  std::function<void()> wait_hup = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      logging::event(spdlog::level::info, "SIGHUP: reloading certificate and configuration",
                          {});
      server.reload_now();
      wait_hup();
    });
  };
  wait_hup();

  std::vector<std::thread> workers;
  for (unsigned i = 1; i < opts.threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : workers) t.join();
  if (certificates) certificates->stop();
  if (reconciler) reconciler->stop();  // after the drain: workers finish, the lease is released
  logging::flush();
  return forced ? 1 : 0;
}

}  // namespace mlnetpol::app
