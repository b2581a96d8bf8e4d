#pragma once
// A real server on port 0 in this process (its own io_context and threads), a generated
// certificate, and a blocking TLS client that can also misbehave on purpose.
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "admission/review.hpp"
#include "app/commands.hpp"
#include "app/serve_app.hpp"
#include "certs/certs.hpp"
#include "common/obs/logging.hpp"
#include "server/server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/files.hpp"
#include "tests/support/review_fixtures.hpp"

namespace mlnetpol::testing {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

inline std::string fixture(const std::string& name) {
  return read_text(admission_fixture_dir() / name);
}

// A Namespace CREATE review: a valid request any webhook answers with 200.
inline const std::string& namespace_review() {
  static const std::string body = fixture("namespace-create-plain.json");
  return body;
}


// Lays out dir/..data -> dir/<version>/ and dir/<name> -> ..data/<name>, like a Secret or
// ConfigMap volume: the visible names are links into a directory link swapped atomically.
inline void publish(const std::filesystem::path& dir, const std::string& version,
                    const std::vector<std::pair<std::string, std::string>>& files) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / version);
  for (const auto& [name, content] : files) write_text(dir / version / name, content);
  const fs::path tmp = dir / "..data_tmp";
  fs::remove(tmp);
  fs::create_directory_symlink(version, tmp);
  fs::rename(tmp, dir / "..data");  // rename(2) over the old link: atomic
  for (const auto& [name, content] : files) {
    if (!fs::is_symlink(dir / name)) fs::create_symlink(fs::path("..data") / name, dir / name);
  }
}

// One dev certificate for the whole test binary: issuing costs a few milliseconds each.
inline const certs::issued& shared_pair() {
  static const certs::issued pair = [] {
    certs::issue_options o;
    o.dev = true;
    return certs::issue(o);
  }();
  return pair;
}

inline certs::issued fresh_pair() {
  certs::issue_options o;
  o.dev = true;
  return certs::issue(o);
}

// A certificate's serial as upper-case hex; empty for no certificate.
inline std::string serial_hex(const X509* cert) {
  if (!cert) return {};
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

inline std::string serial_of_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  std::string out = serial_hex(cert);
  X509_free(cert);
  return out;
}

// A handler that answers from a function; counts calls; may block to hold a request in flight.
class test_handler final : public admission::handler {
 public:
  std::function<admission::review_response(const admission::review_request&)> answer =
      [](const admission::review_request&) {
        admission::review_response r;
        r.allowed = true;
        return r;
      };
  std::atomic<int> calls{0};
  std::atomic<int> delay_ms{0};
  std::atomic<bool> entered{false};

  admission::review_response handle(const admission::review_request& request) override {
    entered = true;
    ++calls;
    if (int d = delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    return answer(request);
  }
};

// The test configuration status: the tenant namespaces, so a reload is visible in /status.
inline app::policy_status test_status(const policy::config& cfg) {
  app::policy_status s;
  s.json = "{\"tenants\":" + std::to_string(cfg.tenant_namespaces.size()) + "}";
  s.gauges.secured_namespaces = cfg.tenant_namespaces.size();
  s.gauges.policy_count = 7;
  s.gauges.cilium_mode_enabled = cfg.cilium_mode;
  s.gauges.ml_policies_enabled = cfg.enable_ml_policies;
  return s;
}

inline server::options quick_options(const std::filesystem::path& cert_dir) {
  server::options o;
  o.bind_address = "127.0.0.1";
  o.port = 0;
  o.metrics_bind_address = "127.0.0.1:0";
  o.tls_cert_file = (cert_dir / "tls.crt").string();
  o.tls_key_file = (cert_dir / "tls.key").string();
  o.threads = 2;
  o.shutdown_grace = 5s;
  o.handshake_timeout = 2s;
  o.header_timeout = 2s;
  o.body_timeout = 2s;
  o.write_timeout = 2s;
  o.idle_timeout = 5s;
  o.reload_interval = 100ms;
  return o;
}

inline void quiet_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* level = std::getenv("MLNETPOL_TEST_LOG_LEVEL");
    mlnetpol::obs::logging::setup(mlnetpol::obs::log_format::text, level ? level : "off");
  });
}

// The server under test, composed as `serve` composes it, running on its own threads until
// stopped or destroyed.
struct running_server {
  temp_dir dir;
  test_handler mutate;
  test_handler validate;
  std::mutex applied_mutex;
  std::vector<policy::config> applied;  // every configuration the server put in force
  net::io_context io{2};
  std::optional<app::serve_app> srv;
  std::vector<std::thread> threads;
  server::options opts;

  explicit running_server(const std::function<void(server::options&)>& tweak = {},
                          const std::function<void(const std::filesystem::path&)>& prepare = {}) {
    quiet_logs();
    certs::write_files(shared_pair(), dir.path, true);
    opts = quick_options(dir.path);
    if (tweak) tweak(opts);
    if (prepare) prepare(dir.path);
    srv.emplace(io, opts, [this](const policy::config& cfg) {
      std::lock_guard lock(applied_mutex);
      applied.push_back(cfg);
      return test_status(cfg);
    });
    srv->routes().handle("/mutate", mutate);
    srv->routes().handle("/validate", validate);
    srv->start();
    for (unsigned i = 0; i < opts.threads; ++i) threads.emplace_back([this] { io.run(); });
  }

  ~running_server() {
    io.stop();
    join();
  }

  void join() {
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }

  // Waits until the app stopped the io_context (after a drain); false on timeout.
  bool wait_stopped(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!io.stopped()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(10ms);
    }
    join();
    return true;
  }

  std::size_t applied_count() {
    std::lock_guard lock(applied_mutex);
    return applied.size();
  }

  policy::config last_applied() {
    std::lock_guard lock(applied_mutex);
    return applied.back();
  }

  std::uint16_t port() const { return srv->port(); }
};

struct response {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string allow;
  std::string connection;
  bool keep_alive = false;
};

// A blocking TLS client that trusts the test CA and checks the 127.0.0.1 SAN.
class tls_client {
 public:
  explicit tls_client(std::uint16_t port, const std::string& ca_pem = shared_pair().ca_cert_pem,
                      int max_version = 0)
      : ctx_(ssl::context::tls_client), port_(port) {
    ctx_.add_certificate_authority(net::buffer(ca_pem));
    ctx_.set_verify_mode(ssl::verify_peer);
    if (max_version) {
      SSL_CTX_set_min_proto_version(ctx_.native_handle(), max_version);
      SSL_CTX_set_max_proto_version(ctx_.native_handle(), max_version);
      // OpenSSL 3 refuses TLS < 1.2 on the client side at the default security level.
      if (max_version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx_.native_handle(), 0);
    }
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx_.native_handle(), alpn, sizeof alpn);
  }

  // Presents this certificate (chain) and key in every later handshake (--client-ca-file).
  void use_certificate(const std::string& cert_pem, const std::string& key_pem) {
    ctx_.use_certificate_chain(net::buffer(cert_pem));
    ctx_.use_private_key(net::buffer(key_pem), ssl::context::pem);
  }

  // Throws boost::system::system_error when the connection or the handshake fails. With a
  // session from an earlier connection, offers to resume it.
  void connect(SSL_SESSION* resume = nullptr) {
    stream_.emplace(io_, ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream_->native_handle()), "127.0.0.1");
    if (resume) SSL_set_session(stream_->native_handle(), resume);
    stream_->next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    stream_->handshake(ssl::stream_base::client);
  }

  ssl::stream<tcp::socket>& stream() { return *stream_; }

  std::string alpn() {
    const unsigned char* data = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(stream_->native_handle(), &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
  }

  // The session to resume later (the caller frees it with SSL_SESSION_free).
  SSL_SESSION* session() { return SSL_get1_session(stream_->native_handle()); }
  bool resumed() { return SSL_session_reused(stream_->native_handle()) == 1; }

  std::string peer_serial() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    std::string out = serial_hex(cert);
    X509_free(cert);
    return out;
  }

  void write_raw(const std::string& bytes) { net::write(*stream_, net::buffer(bytes)); }

  response read_response() {
    http::response<http::string_body> res;
    http::read(*stream_, buffer_, res);
    response r;
    r.status = res.result_int();
    r.body = res.body();
    r.content_type = std::string(res[http::field::content_type]);
    r.allow = std::string(res[http::field::allow]);
    r.connection = std::string(res[http::field::connection]);
    r.keep_alive = res.keep_alive();
    return r;
  }

  response request(const std::string& method, const std::string& target,
                   const std::string& body = {},
                   const std::string& content_type = "application/json") {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!content_type.empty()) raw += "Content-Type: " + content_type + "\r\n";
    if (method == "POST" || !body.empty())
      raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n" + body;
    write_raw(raw);
    return read_response();
  }

  // Reads until the server closes; returns how long that took. Data read on the way is dropped.
  std::chrono::milliseconds time_until_closed(std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    auto& sock = stream_->next_layer();
    sock.non_blocking(true);
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      stream_->read_some(net::buffer(buf), ec);
      const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      if (ec && ec != net::error::would_block) return elapsed;
      if (elapsed > limit) return elapsed;
      if (ec == net::error::would_block) std::this_thread::sleep_for(10ms);
    }
  }

  void close() {
    boost::system::error_code ignored;
    if (stream_) stream_->next_layer().close(ignored);
  }

 private:
  net::io_context io_;
  ssl::context ctx_;
  std::uint16_t port_;
  std::optional<ssl::stream<tcp::socket>> stream_;
  beast::flat_buffer buffer_;
};

// A plain-HTTP GET against the metrics listener.
inline response plain_get(std::uint16_t port, const std::string& target,
                          const std::string& method = "GET") {
  net::io_context io;
  tcp::socket sock(io);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  const std::string raw =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  net::write(sock, net::buffer(raw));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(sock, buffer, res);
  response r;
  r.status = res.result_int();
  r.body = res.body();
  r.content_type = std::string(res[http::field::content_type]);
  return r;
}

inline tcp::endpoint loopback(std::uint16_t port) {
  return {net::ip::make_address("127.0.0.1"), port};
}

// A port nothing listens on right now (for `serve`, which takes its port from a flag).
inline std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor a(io, loopback(0));
  return a.local_endpoint().port();
}

// True once a TCP connect to `port` is refused: the listener is closed (drained).
inline bool refuses_connections(std::uint16_t port) {
  net::io_context io;
  tcp::socket probe(io);
  boost::system::error_code ec;
  probe.connect(loopback(port), ec);
  return ec == net::error::connection_refused;
}

// `mlnetpol serve` with these flags, in this process; its exit code.
inline int run_serve(std::vector<std::string> args) {
  args.insert(args.begin(), "mlnetpol serve");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return mlnetpol::app::serve_command(static_cast<int>(args.size()), argv.data());
}

// `mlnetpol serve` (the real command with the real engine) on a free loopback port, on a thread of
// its own, with the shared pair and `config_yaml` as its configuration file. It stops like the
// binary: on SIGTERM to this process.
struct background_serve {
  temp_dir dir;
  std::uint16_t port = free_port();
  std::uint16_t metrics_port = 0;  // 0: the metrics listener is off
  std::future<int> exit_code;

  explicit background_serve(const std::string& config_yaml, std::vector<std::string> extra = {},
                            bool metrics = false) {
    certs::write_files(shared_pair(), dir.path, true);
    write_text(dir.path / "config.yaml", config_yaml);
    if (metrics) metrics_port = free_port();
    std::vector<std::string> args = {"--port",
                                     std::to_string(port),
                                     "--bind-address",
                                     "127.0.0.1",
                                     "--metrics-bind-address",
                                     metrics ? "127.0.0.1:" + std::to_string(metrics_port) : "0",
                                     "--threads",
                                     "2",
                                     "--log-level",
                                     "off",
                                     "--tls-cert-file",
                                     (dir.path / "tls.crt").string(),
                                     "--tls-key-file",
                                     (dir.path / "tls.key").string(),
                                     "--config",
                                     (dir.path / "config.yaml").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    exit_code = std::async(std::launch::async, [args = std::move(args)]() mutable {
      return run_serve(std::move(args));
    });
  }

  // A test that failed half-way must not hang on the future: a serve that got ready (its signal
  // handlers are in place) is stopped.
  ~background_serve() {
    if (ready_ && exit_code.valid() && exit_code.wait_for(0s) != std::future_status::ready) {
      ::kill(::getpid(), SIGTERM);
    }
  }

  // Ready means the I/O loop runs, so the signal handlers are installed.
  bool wait_ready(std::chrono::milliseconds limit = eventually_limit) {
    ready_ = eventually(
        [&] {
          try {
            tls_client c(port);
            c.connect();
            return c.request("GET", "/readyz", "", "").status == 200;
          } catch (const boost::system::system_error&) {
            return false;
          }
        },
        limit);
    return ready_;
  }

 private:
  bool ready_ = false;
};

}  // namespace mlnetpol::testing
