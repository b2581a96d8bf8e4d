// `mlnetpol serve`: parses the flags, sets up logging, composes the label webhook, the server and
// the configuration watcher, and runs them until SIGTERM/SIGINT; SIGHUP re-reads the certificate
// and the configuration. The io_context, its thread and the signals are owned here.
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "admission/label_webhook.hpp"
#include "app/cert_runnable.hpp"
#include "app/commands.hpp"
#include "app/config_watcher.hpp"
#include "app/hints.hpp"
#include "app/reconciler_runnable.hpp"
#include "app/serve_app.hpp"
#include "common/flags.hpp"
#include "common/obs/logging.hpp"
#include "common/snapshot.hpp"
#include "k8s/client.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::app {
namespace {

// Cluster access, loaded once for the reconciler and the certificates. None at all (no
// --kubeconfig, not in a pod) means admission-only, unless the certificates are self-managed;
// access that does not load stops start-up.
result<std::optional<k8s::rest_config>> cluster_access(const reconciler_flags& flags,
                                                       bool self_managed) {
  const bool none = flags.kubeconfig.empty() && !k8s::in_pod();
  if (!self_managed && (!flags.reconcile || none)) return std::optional<k8s::rest_config>{};
  auto rest = k8s::load_rest_config(flags.kubeconfig);
  if (!rest) {
    return fail(none ? "--cert-management=self needs the API server (--kubeconfig, or run in a "
                       "pod): " + rest.error().message
                     : rest.error().message);
  }
  return std::optional<k8s::rest_config>(std::move(*rest));
}

}  // namespace

int serve_command(int argc, char** argv) {
  namespace srv = mlnetpol::server;
  namespace logging = mlnetpol::obs::logging;
  // One parser over every part's flags: an unknown flag is matched against all of them.
  srv::options opts;
  reconciler_flags reconcile_flags;
  app::cert_flags cert_flags;
  flags::parser parser(srv::serve_wording());
  srv::declare(parser, opts);
  declare(parser, reconcile_flags);
  declare(parser, cert_flags);
  const auto help = parser.parse(argc, argv);
  if (help && *help) {
    std::fputs((srv::serve_usage() + "\n" + reconciler_flags_usage() + "\n" +
                cert_flags_usage())
                   .c_str(),
               stdout);
    return 0;
  }
  for (const auto& ok : {help ? result<void>{} : result<void>{help.error()},
                         check(reconcile_flags), check(cert_flags)}) {
    if (!ok) {
      std::fprintf(stderr, "mlnetpol serve: %s\n", ok.error().message.c_str());
      return 2;
    }
  }
  if (auto finished = srv::finish(opts); !finished) {
    std::fprintf(stderr, "mlnetpol serve: %s\n", finished.error().message.c_str());
    return 2;
  }
  const bool self_managed = cert_flags.mode == cert_mode::self;
  // Self-managed: the pair comes from the Secret (set_certificate), never from files.
  if (self_managed) {
    opts.tls_cert_file.clear();
    opts.tls_key_file.clear();
  }
  logging::setup(opts.format, opts.log_level);
  logging::set_log_denies(opts.log_denies);
  auto rest = cluster_access(reconcile_flags, self_managed);
  if (!rest) {
    logging::event(spdlog::level::err, "cannot start", {{"error", rest.error().message}});
    logging::flush();
    std::fprintf(stderr, "mlnetpol serve: %s\n", rest.error().message.c_str());
    return 2;
  }

  // The configuration in force; requests read it, reloads replace it. Namespace labels come from
  // the reconciler's cache (the API server), never from requests; admission-only has none.
  snapshot<policy::config> config{policy::config{}};
  reconciler_runnable reconciler{reconcile_flags, *rest, config};
  admission::label_webhook labels{config, &reconciler};
  auto apply = [&config, &reconciler](const policy::config& cfg) {
    config.set(cfg);
    reconciler.update_config(cfg);
    const auto summary = policy::summarize(cfg);
    policy_status status;
    status.json = policy::summary_json(summary);
    status.gauges.secured_namespaces = summary.secured_namespaces.size();
    status.gauges.policy_count = summary.policy_count;
    status.gauges.cilium_mode_enabled = summary.cilium_mode_enabled;
    status.gauges.ml_policies_enabled = summary.ml_policies_enabled;
    return status;
  };

  // One thread runs this io_context (listeners, timers, signals, reloads); with --threads N > 1
  // the connections run on the server's own N I/O threads.
  boost::asio::io_context io(1);
  serve_app app(io, opts, apply);
  app.routes().handle("/mutate", labels.mutate());
  app.routes().handle("/validate", labels.validate());
  app.routes().on_denial(
      [&reconciler](const admission::review_outcome& o) { reconciler.record_denial(o); });
  app.add_runnable(reconciler);
  app.add_readiness_check([&reconciler] { return reconciler.not_ready(); });
  app.set_status_source([&reconciler] { return reconciler.status_json(); });
  auto reconciler_metrics =
      app.metrics_registry().add([&reconciler](std::string& out) { reconciler.render_metrics(out); });
  cert_runnable certificates{cert_flags, *rest, reconciler,
                             [&app](std::string_view cert, std::string_view key) {
                               return app.set_certificate(cert, key);
                             }};
  obs::registry::registration certificate_metrics;
  if (self_managed) {
    app.add_runnable(certificates);  // after the reconciler: it shares its leadership
    app.add_readiness_check([&certificates] { return certificates.not_ready(); });
    certificate_metrics = app.metrics_registry().add(
        [&certificates](std::string& out) { certificates.render_metrics(out); });
  }
  try {
    app.start();
  } catch (const bad_configuration& e) {
    logging::event(spdlog::level::err, "cannot start", {{"error", e.what()}});
    logging::flush();
    std::fprintf(stderr, "mlnetpol serve: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    logging::event(spdlog::level::err, "cannot start", {{"error", e.what()}});
    logging::flush();
    std::fprintf(stderr, "mlnetpol serve: %s\n", e.what());
    std::error_code ec;
    if (!self_managed && (!std::filesystem::exists(opts.tls_cert_file, ec) ||
                          !std::filesystem::exists(opts.tls_key_file, ec)))
      std::fprintf(stderr, "%s\n",
                   missing_certificate_hint(opts.tls_cert_file, opts.tls_key_file).c_str());
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
      app.begin_shutdown();
      wait_stop();
    });
  };
  wait_stop();
  boost::asio::signal_set reload_signal(io, SIGHUP);
  std::function<void()> wait_hup = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      logging::event(spdlog::level::info, "SIGHUP: reloading certificate and configuration", {});
      app.reload_now();
      wait_hup();
    });
  };
  wait_hup();

  io.run();
  logging::flush();
  return forced ? 1 : 0;
}

}  // namespace mlnetpol::app
