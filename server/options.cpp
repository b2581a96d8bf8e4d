#include "server/options.hpp"

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

bool parse_duration(std::string_view text, std::chrono::milliseconds& out) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::uint64_t n = 0;
  if (!parse_unsigned(text.substr(0, digits), 1'000'000'000, n)) return false;
  const std::string_view unit = text.substr(digits);
  std::uint64_t ms_per_unit = 0;
  if (unit.empty() || unit == "s")
    ms_per_unit = 1000;
  else if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "m")
    ms_per_unit = 60'000;
  else if (unit == "h")
    ms_per_unit = 3'600'000;
  else
    return false;
  out = std::chrono::milliseconds(n * ms_per_unit);
  return true;
}

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
         "  --log-format json|text        (default json)\n"
         "  --log-level LEVEL             trace|debug|info|warn|error|off (default info)\n"
         "  --log-denies[=true|false]     log denials and warn/audit findings at info; other\n"
         "                                decisions are logged at debug (default true)\n"
         "  --max-connections N           open HTTPS connections at most (default 4096)\n"
         "  --handshake-timeout DURATION  TLS handshake (default 10s)\n"
         "  --header-timeout DURATION     request line and headers (default 10s)\n"
         "  --body-timeout DURATION       request body (default 30s)\n"
         "  --write-timeout DURATION      response write (default 30s)\n"
         "  --idle-timeout DURATION       keep-alive wait for the next request (default 120s)\n"
         "  --reload-interval DURATION    certificate/config file polling (default 5s)\n"
         "  --help                        this text\n"
         "\n"
         "Durations: 500ms, 10s, 2m, 1h (a bare number is seconds).\n"
         "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP re-reads certificate and config now.\n";
}

parse_result parse_serve_args(const std::vector<std::string_view>& args) {
  parse_result r;
  options& o = r.value;
  auto fail = [&](std::string message) {
    r.ok = false;
    r.error = std::move(message);
    return r;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::string_view value;
    bool has_value = false;
    if (flag == "--help" || flag == "-h") {
      r.help = true;
      r.ok = true;
      return r;
    }
    if (flag.substr(0, 2) != "--") return fail("unexpected argument " + quoted(flag));
    if (auto eq = flag.find('='); eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    auto need_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= args.size()) return false;
      value = args[++i];
      return true;
    };
    auto duration_flag = [&](std::chrono::milliseconds& out) -> std::string {
      if (!need_value()) return std::string(flag) + ": missing value";
      if (!parse_duration(value, out))
        return std::string(flag) + ": not a duration (like 500ms, 10s, 2m): " + quoted(value);
      return {};
    };
    std::string err;
    std::uint64_t n = 0;
    if (flag == "--port") {
      if (!need_value()) return fail("--port: missing value");
      if (!parse_unsigned(value, 65535, n))
        return fail("--port: not a port number: " + quoted(value));
      o.port = static_cast<std::uint16_t>(n);
    } else if (flag == "--bind-address") {
      if (!need_value() || value.empty()) return fail("--bind-address: missing value");
      o.bind_address = value;
    } else if (flag == "--tls-cert-file") {
      if (!need_value() || value.empty()) return fail("--tls-cert-file: missing value");
      o.tls_cert_file = value;
    } else if (flag == "--tls-key-file") {
      if (!need_value() || value.empty()) return fail("--tls-key-file: missing value");
      o.tls_key_file = value;
    } else if (flag == "--threads") {
      if (!need_value()) return fail("--threads: missing value");
      if (!parse_unsigned(value, 1024, n) || n == 0)
        return fail("--threads: not a thread count (1..1024): " + quoted(value));
      o.threads = static_cast<unsigned>(n);
    } else if (flag == "--config") {
      if (!need_value() || value.empty()) return fail("--config: missing value");
      o.config_file = value;
    } else if (flag == "--metrics-bind-address") {
      if (!need_value()) return fail("--metrics-bind-address: missing value");
      std::string host;
      std::uint16_t port = 0;
      if (value != "0" && !split_host_port(value, host, port))
        return fail("--metrics-bind-address: not host:port or 0: " + quoted(value));
      o.metrics_bind_address = value;
    } else if (flag == "--log-format") {
      if (!need_value()) return fail("--log-format: missing value");
      if (value == "json")
        o.format = log_format::json;
      else if (value == "text")
        o.format = log_format::text;
      else
        return fail("--log-format: json or text, not " + quoted(value));
    } else if (flag == "--log-level") {
      if (!need_value()) return fail("--log-level: missing value");
      if (value != "trace" && value != "debug" && value != "info" && value != "warn" &&
          value != "error" && value != "off")
        return fail("--log-level: trace, debug, info, warn, error or off, not " + quoted(value));
      o.log_level = value;
    } else if (flag == "--log-denies") {
      if (!has_value || value == "true") {
        o.log_denies = true;
      } else if (value == "false") {
        o.log_denies = false;
      } else {
        return fail("--log-denies: true or false, not " + quoted(value));
      }
    } else if (flag == "--max-connections") {
      if (!need_value()) return fail("--max-connections: missing value");
      if (!parse_unsigned(value, 1'000'000, n) || n == 0)
        return fail("--max-connections: not a positive count: " + quoted(value));
      o.max_connections = n;
    } else if (flag == "--shutdown-grace") {
      err = duration_flag(o.shutdown_grace);
    } else if (flag == "--handshake-timeout") {
      err = duration_flag(o.handshake_timeout);
    } else if (flag == "--header-timeout") {
      err = duration_flag(o.header_timeout);
    } else if (flag == "--body-timeout") {
      err = duration_flag(o.body_timeout);
    } else if (flag == "--write-timeout") {
      err = duration_flag(o.write_timeout);
    } else if (flag == "--idle-timeout") {
      err = duration_flag(o.idle_timeout);
    } else if (flag == "--reload-interval") {
      err = duration_flag(o.reload_interval);
      if (err.empty() && o.reload_interval.count() == 0) err = "--reload-interval: must be > 0";
    } else {
      return fail("unknown flag " + quoted(flag) + " (see --help)");
    }
    if (!err.empty()) return fail(err);
  }
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  r.ok = true;
  return r;
}

parse_result parse_serve_args(int argc, char** argv) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_serve_args(args);
}

}  // namespace mlnetpol::server
