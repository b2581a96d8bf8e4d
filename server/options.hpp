#pragma once
// `mlnetpol serve` flags (controller-runtime's names and defaults) and their parser.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/flags.hpp"
#include "common/obs/logging.hpp"
#include "common/result.hpp"

namespace mlnetpol::server {

using obs::log_format;

struct options {
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 9443;  // 0 = any free port (tests); server::port() tells which
  std::string tls_cert_file = "/tmp/k8s-webhook-server/serving-certs/tls.crt";
  std::string tls_key_file = "/tmp/k8s-webhook-server/serving-certs/tls.key";
  unsigned threads = 0;     // 0 = one per core
  std::string config_file;  // empty = embedded defaults (policy::config{})
  // Plain-HTTP /healthz, /readyz, /metrics, /status; "0" disables it (controller-runtime's
  // convention).
  std::string metrics_bind_address = "127.0.0.1:8080";
  std::chrono::milliseconds shutdown_grace{25'000};
  // While draining, an idle keep-alive connection stays open this long (at most the grace) for a
  // request the client may be sending on it just then; Go's client does not retry a POST that
  // met a closing connection, so closing idle connections at once would lose such requests.
  std::chrono::milliseconds drain_idle_timeout{5'000};
  log_format format = log_format::json;
  std::string log_level = "info";
  // Denials and warn/audit findings logged at info (every other decision at debug).
  bool log_denies = true;
  // Of those lines at most this many per second on average, in bursts of up to log_denies_burst
  // (0: no limit); the rest are counted, and the next line written says how many it follows.
  std::uint64_t log_denies_per_second = 10;
  std::uint64_t log_denies_burst = 100;
  std::size_t max_connections = 4096;
  // Open HTTPS connections from one IP address at most: one pod cannot hold the whole cap. The API
  // server (one address per instance, or per konnectivity agent) keeps far fewer open.
  std::size_t max_connections_per_peer = 256;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  // Longer than the API server's idle-connection timeout (90 s, Go's transport default there): a
  // server that closes first races the client's next POST, which Go does not retry.
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds reload_interval{5'000};  // certificate and config polling
  std::chrono::milliseconds memory_release_interval{10'000};  // free heap pages to the OS; 0: never
  // kube-apiserver accepts request bodies up to 3 MiB (etcd's 1.5 MiB limit, doubled for JSON vs
  // protobuf); an AdmissionReview carries object and oldObject (3 MiB each) plus < 1 MiB of
  // envelope. controller-runtime uses the same 7 MiB bound.
  std::size_t max_body_bytes = 7 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  // Client authentication on the webhook port: when set, every TLS client must present a
  // certificate signed by a CA in this PEM file (re-read like the serving pair).
  std::string client_ca_file;
  // When not empty, the client certificate's subject CN or one of its DNS SANs must be one of
  // these (else 403).
  std::vector<std::string> client_allowed_names;
};

// What the server's flags alone parse to; the error reads "--port: not a port number: 'x'".
struct serve_args {
  options value;
  bool help = false;  // --help: print serve_usage() and exit 0
};

// The server's flags on `p` (serve's one parser also holds the controller's); parse, then finish().
void declare(flags::parser& p, options& o);
// serve's wording of flag errors ("unknown flag '--x' (see --help)").
flags::wording serve_wording();
// Defaults that depend on the machine (threads: one per core).
result<void> finish(options& o);  // cross-flag checks, then defaults

// The server's flags alone (tests, tools); `mlnetpol serve` parses all of its flags at once.
result<serve_args> parse_serve_args(const std::vector<std::string_view>& args);
result<serve_args> parse_serve_args(int argc, char** argv);  // argv[0] is the program
std::string serve_usage();

// "host:port" / "[v6]:port" / ":port"; false on anything else.
bool split_host_port(std::string_view text, std::string& host, std::uint16_t& port);

}  // namespace mlnetpol::server
