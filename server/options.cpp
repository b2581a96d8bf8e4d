#include "server/options.hpp"

#include "common/flags.hpp"

#include <algorithm>
#include <charconv>
#include <thread>

namespace mlnetpol::server {
namespace {

bool parse_unsigned(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty()) return false;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max) return false;
  out = v;
  return true;
}

std::string quoted(std::string_view v) {
  return "'" + std::string(v) + "'";
}

}  // namespace

bool split_host_port(std::string_view text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::uint64_t p = 0;
  if (!parse_unsigned(text.substr(colon + 1), 65535, p)) return false;
  host = h.empty() ? "0.0.0.0" : std::string(h);
  port = static_cast<std::uint16_t>(p);
  return true;
}

std::string serve_usage() {
  return "usage: mlnetpol serve [flags]\n"
         "\n"
         "Runs the admission webhook server: HTTPS POST /mutate and /validate, plus /healthz, "
         "/readyz,\n"
         "/metrics and /status (also on the plain-HTTP metrics listener).\n"
         "\n"
         "flags:\n"
         "  --port N                      HTTPS port (default 9443; 0 picks a free one)\n"
         "  --bind-address ADDR           HTTPS listen address (default 0.0.0.0)\n"
         "  --tls-cert-file FILE          serving certificate chain, PEM\n"
         "                                (default /tmp/k8s-webhook-server/serving-certs/tls.crt)\n"
         "  --tls-key-file FILE           serving key, PEM\n"
         "                                (default /tmp/k8s-webhook-server/serving-certs/tls.key)\n"
         "  --threads N                   I/O threads (default: number of cores)\n"
         "  --config FILE                 policy configuration, YAML or JSON (default: embedded)\n"
         "  --metrics-bind-address ADDR   plain-HTTP health/metrics listener host:port\n"
         "                                (default 127.0.0.1:8080; 0 disables it)\n"
         "  --shutdown-grace DURATION     time in-flight requests get on SIGTERM (default 25s)\n"
         "  --drain-idle-timeout DURATION while draining, how long an idle keep-alive connection\n"
         "                                waits for a last request (default 5s, at most the\n"
         "                                shutdown grace)\n"
         "  --log-format json|text        (default json)\n"
         "  --log-level LEVEL             trace|debug|info|warn|error|off (default info)\n"
         "  --log-denies[=true|false]     log denials and warn/audit findings at info; other\n"
         "                                decisions are logged at debug (default true)\n"
         "  --log-denies-per-second N     of those lines at most N per second on average (default\n"
         "                                10; 0: no limit); the lines left out are counted and\n"
         "                                the next line written says how many it follows\n"
         "  --log-denies-burst N          ... in bursts of up to N lines (default 100)\n"
         "  --max-connections N           open HTTPS connections at most (default 4096); at the\n"
         "                                cap a new one closes the connection that has waited\n"
         "                                longest on its client (TLS handshake or next request)\n"
         "  --max-connections-per-peer N  open HTTPS connections from one IP address at most\n"
         "                                (default 256); more are closed at once\n"
         "  --handshake-timeout DURATION  TLS handshake (default 10s)\n"
         "  --header-timeout DURATION     request line and headers (default 10s)\n"
         "  --body-timeout DURATION       request body (default 30s)\n"
         "  --write-timeout DURATION      response write (default 30s)\n"
         "  --idle-timeout DURATION       keep-alive wait for the next request (default 120s)\n"
         "  --reload-interval DURATION    certificate/config file polling (default 5s)\n"
         "  --memory-release-interval DURATION\n"
         "                                give the heap's free pages back to the kernel this\n"
         "                                often (default 10s; 0: never)\n"
         "  --client-ca-file FILE         require a client certificate signed by a CA in FILE\n"
         "                                on the HTTPS port (the API server's; default: none)\n"
         "  --client-allowed-names LIST   comma-separated names; the client certificate's CN or\n"
         "                                a DNS SAN must be one of them (403 otherwise)\n"
         "  --help                        this text\n"
         "\n"
         "Durations: 500ms, 10s, 2m, 1h, 1m30s (a bare number is seconds).\n"
         "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP re-reads certificate and config now.\n";
}

flags::wording serve_wording() {
  flags::wording wording;
  wording.unknown_flag = "unknown flag '{}' (see --help)";
  return wording;
}

void declare(flags::parser& p, options& o) {
  auto text = [](std::string& out, std::string_view flag) {
    return [&out, flag](std::string_view v) -> std::string {
      if (v.empty()) return std::string(flag) + ": missing value";
      out = v;
      return {};
    };
  };
  auto positive_count = [](std::size_t& out, std::string_view flag) {
    return [&out, flag](std::string_view v) -> std::string {
      std::uint64_t n = 0;
      if (!parse_unsigned(v, 1'000'000, n) || n == 0)
        return std::string(flag) + ": not a positive count: " + quoted(v);
      out = n;
      return {};
    };
  };
  p.value("--port",
          [&o](std::string_view v) -> std::string {
            std::uint64_t n = 0;
            if (!parse_unsigned(v, 65535, n)) return "--port: not a port number: " + quoted(v);
            o.port = static_cast<std::uint16_t>(n);
            return {};
          })
      .value("--bind-address", text(o.bind_address, "--bind-address"))
      .value("--tls-cert-file", text(o.tls_cert_file, "--tls-cert-file"))
      .value("--tls-key-file", text(o.tls_key_file, "--tls-key-file"))
      .value("--threads",
             [&o](std::string_view v) -> std::string {
               std::uint64_t n = 0;
               if (!parse_unsigned(v, 1024, n) || n == 0)
                 return "--threads: not a thread count (1..1024): " + quoted(v);
               o.threads = static_cast<unsigned>(n);
               return {};
             })
      .value("--config", text(o.config_file, "--config"))
      .value("--metrics-bind-address",
             [&o](std::string_view v) -> std::string {
               std::string host;
               std::uint16_t port = 0;
               if (v != "0" && !split_host_port(v, host, port))
                 return "--metrics-bind-address: not host:port or 0: " + quoted(v);
               o.metrics_bind_address = v;
               return {};
             })
      .value("--log-format",
             [&o](std::string_view v) -> std::string {
               if (v == "json")
                 o.format = log_format::json;
               else if (v == "text")
                 o.format = log_format::text;
               else
                 return "--log-format: json or text, not " + quoted(v);
               return {};
             })
      .value("--log-level",
             [&o](std::string_view v) -> std::string {
               if (v != "trace" && v != "debug" && v != "info" && v != "warn" && v != "error" &&
                   v != "off")
                 return "--log-level: trace, debug, info, warn, error or off, not " + quoted(v);
               o.log_level = v;
               return {};
             })
      .boolean("--log-denies", o.log_denies)
      .value("--log-denies-per-second",
             [&o](std::string_view v) -> std::string {
               if (!parse_unsigned(v, 1'000'000, o.log_denies_per_second))
                 return "--log-denies-per-second: not a count (0 to 1000000): " + quoted(v);
               return {};
             })
      .value("--log-denies-burst",
             [&o](std::string_view v) -> std::string {
               if (!parse_unsigned(v, 1'000'000, o.log_denies_burst) || o.log_denies_burst == 0)
                 return "--log-denies-burst: not a positive count: " + quoted(v);
               return {};
             })
      .value("--max-connections", positive_count(o.max_connections, "--max-connections"))
      .value("--max-connections-per-peer",
             positive_count(o.max_connections_per_peer, "--max-connections-per-peer"))
      .duration("--shutdown-grace", o.shutdown_grace)
      .duration("--drain-idle-timeout", o.drain_idle_timeout)
      .duration("--handshake-timeout", o.handshake_timeout)
      .duration("--header-timeout", o.header_timeout)
      .duration("--body-timeout", o.body_timeout)
      .duration("--write-timeout", o.write_timeout)
      .duration("--idle-timeout", o.idle_timeout)
      .duration("--reload-interval", o.reload_interval, /*positive=*/true)
      .duration("--memory-release-interval", o.memory_release_interval)
      .value("--client-ca-file", text(o.client_ca_file, "--client-ca-file"))
      .value("--client-allowed-names", [&](std::string_view v) -> std::string {
        o.client_allowed_names.clear();
        for (std::string_view rest = v; !rest.empty();) {
          const auto comma = rest.find(',');
          std::string_view name = rest.substr(0, comma);
          while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
          while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
          if (!name.empty()) o.client_allowed_names.emplace_back(name);
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
        if (o.client_allowed_names.empty())
          return "--client-allowed-names: no name in " + quoted(v);
        return {};
      });
}

result<void> finish(options& o) {
  if (!o.client_allowed_names.empty() && o.client_ca_file.empty()) {
    return fail("--client-allowed-names needs --client-ca-file");
  }
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return {};
}

result<serve_args> parse_serve_args(const std::vector<std::string_view>& args) {
  serve_args r;
  flags::parser p(serve_wording());
  declare(p, r.value);
  const auto parsed = p.parse(args);
  if (!parsed) return parsed.error();
  r.help = *parsed;
  if (auto done = finish(r.value); !done) return done.error();
  return r;
}

result<serve_args> parse_serve_args(int argc, char** argv) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_serve_args(args);
}

}  // namespace mlnetpol::server
