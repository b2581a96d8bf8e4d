#include "server/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "app/config_file.hpp"
#include "common/obs/logging.hpp"
#include "server/router.hpp"
#include "server/tls.hpp"
#include "server/tls_stream.hpp"

namespace mlnetpol::server {

namespace logging = obs::logging;

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using spdlog::level::level_enum;

namespace {

// The request line and the few headers the server looks at, reused across requests.
struct request_head {
  std::string method;
  std::string target;
  std::string content_type;
  bool has_content_type = false;
  bool expect_continue = false;
  int version = 11;
};

// Beast's parser with our own storage: the body goes straight into the session's reusable string
// and only Content-Type and Expect are kept, so a request allocates nothing once buffers are warm.
class request_parser final : public http::basic_parser<true> {
 public:
  request_parser(request_head& head, std::string& body) : head_(head), body_(body) {
    head_.method.clear();
    head_.target.clear();
    head_.content_type.clear();
    head_.has_content_type = false;
    head_.expect_continue = false;
    body_.clear();
  }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, error_code&) override {
    head_.method.assign(method.data(), method.size());
    head_.target.assign(target.data(), target.size());
    head_.version = version;
  }
  void on_response_impl(int, beast::string_view, int, error_code& ec) override {
    ec = http::error::bad_version;
  }
  void on_field_impl(http::field name, beast::string_view, beast::string_view value,
                     error_code&) override {
    if (name == http::field::content_type) {
      head_.content_type.assign(value.data(), value.size());
      head_.has_content_type = true;
    } else if (name == http::field::expect) {
      head_.expect_continue = beast::iequals(value, "100-continue");
    }
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) body_.reserve(static_cast<std::size_t>(*length));  // <= body_limit, checked before
  }
  std::size_t on_body_impl(beast::string_view s, error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(error_code&) override {}

  request_head& head_;
  std::string& body_;
};

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

class session_base {
 public:
  virtual ~session_base() = default;
  virtual void drain() = 0;        // close when idle, else after the response in progress
  virtual void force_close() = 0;  // the grace period is over
};

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io, options o, routes r, config_hooks h)
      : io_(io),
        opts_(std::move(o)),
        routes_(r),
        hooks_(std::move(h)),
        certs_(opts_.tls_cert_file, opts_.tls_key_file),
        acceptor_(io),
        metrics_acceptor_(io),
        reload_timer_(io),
        grace_timer_(io) {}

  net::io_context& io_;
  const options opts_;
  const routes routes_;
  const config_hooks hooks_;
  metrics metrics_;
  certificate_store certs_;
  tcp::acceptor acceptor_;
  tcp::acceptor metrics_acceptor_;
  net::steady_timer reload_timer_;
  net::steady_timer grace_timer_;
  std::uint16_t port_ = 0;
  std::uint16_t metrics_port_ = 0;
  // How often at most a connection's timer wakes up (see session::enter).
  const std::chrono::milliseconds shortest_timeout_ =
      std::min({opts_.handshake_timeout, opts_.header_timeout, opts_.body_timeout,
                opts_.write_timeout, opts_.idle_timeout});

  std::atomic<bool> started_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> config_loaded_{false};

  mutable std::mutex status_mutex_;
  std::shared_ptr<const std::string> status_json_;

  std::mutex reload_mutex_;  // the poll and SIGHUP may run on different I/O threads
  std::string config_bytes_;
  std::string config_read_error_;
  std::string cert_error_;

  // Open webhook connections, for the connection cap and the drain.
  std::mutex sessions_mutex_;
  std::unordered_map<session_base*, std::weak_ptr<session_base>> sessions_;
  std::atomic<std::size_t> open_connections_{0};
  std::chrono::steady_clock::time_point last_cap_log_{};
  std::size_t rejected_since_log_ = 0;
  std::atomic<bool> finished_{false};

  // Empty when ready.
  std::string_view not_ready_reason() const {
    if (draining_.load()) return "shutting down";
    if (!started_.load()) return "starting";
    if (!config_loaded_.load()) return "no configuration loaded";
    if (!certs_.loaded()) return "no certificate loaded";
    if (hooks_.not_ready) {
      thread_local std::string reason;  // the view must outlive this call
      reason = hooks_.not_ready();
      return reason;
    }
    return {};
  }

  net::any_io_executor session_executor() {
    // One I/O thread needs no strand; several (or an unknown number: 0) serialise each
    // connection on its own strand.
    if (opts_.threads != 1) return net::make_strand(io_);
    return io_.get_executor();
  }

  // --- configuration and certificate ---------------------------------------------------------

  void apply_config(const policy::config& cfg) {
    policy_status status = hooks_.apply ? hooks_.apply(cfg) : policy_status{};
    metrics_.set_policy_gauges(status.gauges);
    {
      std::lock_guard lock(status_mutex_);
      status_json_ = std::make_shared<const std::string>(std::move(status.json));
    }
    config_loaded_.store(true);
  }

  std::shared_ptr<const std::string> status_json() const {
    if (hooks_.live_status && config_loaded_.load()) {
      std::string live = hooks_.live_status();
      if (!live.empty()) return std::make_shared<const std::string>(std::move(live));
    }
    std::lock_guard lock(status_mutex_);
    return status_json_;
  }

  void load_initial_config() {
    if (opts_.config_file.empty()) {
      apply_config(policy::config{});
      logging::event(level_enum::info, "configuration loaded", {{"source", "embedded defaults"}});
      return;
    }
    std::string error;
    if (!read_file(opts_.config_file, config_bytes_, error)) throw std::runtime_error(error);
    auto loaded = app::load_config_file(opts_.config_file);
    if (!loaded.ok) throw std::runtime_error(loaded.error);
    apply_config(loaded.value);
    logging::event(level_enum::info, "configuration loaded", {{"source", opts_.config_file}});
  }

  void reload_config() {
    if (opts_.config_file.empty()) return;
    std::string bytes, error;
    if (!read_file(opts_.config_file, bytes, error)) {
      if (error != config_read_error_) {
        metrics_.count_config_reload_failure();
        logging::event(level_enum::err, "configuration reload failed; keeping the last good one",
                       {{"error", error}});
      }
      config_read_error_ = error;
      return;
    }
    config_read_error_.clear();
    if (bytes == config_bytes_) return;
    config_bytes_ = std::move(bytes);
    auto loaded = app::load_config_file(opts_.config_file);
    if (!loaded.ok) {
      metrics_.count_config_reload_failure();
      logging::event(level_enum::err, "configuration reload rejected; keeping the last good one",
                     {{"file", opts_.config_file}, {"error", loaded.error}});
      return;
    }
    apply_config(loaded.value);
    logging::event(level_enum::info, "configuration reloaded", {{"file", opts_.config_file}});
  }

  // No files named: the pair arrives through server::set_certificate (the Secret).
  bool files_mode() const { return !opts_.tls_cert_file.empty(); }

  void reload_certificate(bool at_start) {
    if (!files_mode()) return;
    const auto result = certs_.reload();
    if (result.outcome == certificate_store::status::failed) {
      if (at_start) throw std::runtime_error("TLS certificate: " + result.error);
      if (result.error != cert_error_) {
        logging::event(level_enum::err,
                       "certificate reload failed; new handshakes keep the previous pair",
                       {{"error", result.error}});
      }
      cert_error_ = result.error;
      return;
    }
    if (result.outcome == certificate_store::status::reloaded) {
      cert_error_.clear();
      const auto m = certs_.material();
      metrics_.set_certificate_expiry(m.not_after);
      logging::event(level_enum::info, at_start ? "certificate loaded" : "certificate reloaded",
                     {{"cert", opts_.tls_cert_file},
                      {"serial", m.serial_hex},
                      {"not_after", static_cast<std::uint64_t>(m.not_after)}});
    }
  }

  void reload_all() {
    std::lock_guard lock(reload_mutex_);
    if (draining_.load()) return;
    reload_certificate(false);
    reload_config();
  }

  void schedule_reload() {
    reload_timer_.expires_after(opts_.reload_interval);
    reload_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->draining_.load()) return;
      self->reload_all();
      self->schedule_reload();
    });
  }

  // --- listeners ---------------------------------------------------------------------------

  static void listen(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port,
                     std::string_view what) {
    error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (ec) throw std::runtime_error(std::string(what) + ": not an IP address: '" + host + "'");
    const tcp::endpoint endpoint(address, port);
    auto check = [&](std::string_view step) {
      if (ec) {
        throw std::runtime_error(std::string(what) + ": " + std::string(step) + " " +
                                 endpoint_text(endpoint) + ": " + ec.message());
      }
    };
    acceptor.open(endpoint.protocol(), ec);
    check("open");
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    check("set SO_REUSEADDR on");
    acceptor.bind(endpoint, ec);
    check("bind");
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    check("listen on");
  }

  void accept_webhook();
  void accept_metrics();
  void on_capacity_reached(tcp::socket& socket);

  void register_session(const std::shared_ptr<session_base>& s) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.emplace(s.get(), s);
  }

  void unregister_session(session_base* s) {
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.erase(s);
    }
    if (open_connections_.fetch_sub(1) == 1 && draining_.load() && !finished_.load()) {
      net::post(io_, [self = shared_from_this()] { self->finish("all connections closed"); });
    }
  }

  std::vector<std::shared_ptr<session_base>> live_sessions() {
    std::vector<std::shared_ptr<session_base>> out;
    std::lock_guard lock(sessions_mutex_);
    for (auto& [raw, weak] : sessions_) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

  void begin_shutdown() {
    if (draining_.exchange(true)) return;
    net::post(io_, [self = shared_from_this()] { self->drain(); });
  }

  void drain() {
    logging::event(
        level_enum::info, "shutting down: not ready, listener closed, draining",
        {{"open_connections", static_cast<std::uint64_t>(open_connections_.load())},
         {"grace_seconds", std::chrono::duration<double>(opts_.shutdown_grace).count()}});
    error_code ignored;
    acceptor_.close(ignored);
    reload_timer_.cancel();
    for (auto& s : live_sessions()) s->drain();
    if (open_connections_.load() == 0) {
      finish("no open connections");
      return;
    }
    grace_timer_.expires_after(opts_.shutdown_grace);
    grace_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      logging::event(
          level_enum::warn, "shutdown grace period over; closing open connections",
          {{"open_connections", static_cast<std::uint64_t>(self->open_connections_.load())}});
      for (auto& s : self->live_sessions()) s->force_close();
      self->finish("grace period over");
    });
  }

  void finish(std::string_view why) {
    if (finished_.exchange(true)) return;
    error_code ignored;
    grace_timer_.cancel();
    metrics_acceptor_.close(ignored);
    logging::event(level_enum::info, "stopped", {{"reason", why}});
    logging::flush();
    io_.stop();
  }
};

namespace {

// One connection: TLS (webhook listener) or plain (metrics listener), HTTP/1.1 keep-alive.
// Reads go straight into Beast's parser from one buffer, and each phase (handshake, idle, header,
// body, write) has a deadline enforced by one lazily re-armed timer: moving a deadline is a store,
// not a timer cancel and a posted handler per I/O operation.
template <bool Tls>
class session final : public session_base, public std::enable_shared_from_this<session<Tls>> {
  using stream_type = std::conditional_t<Tls, tls_stream, tcp::socket>;
  using clock = std::chrono::steady_clock;

 public:
  session(std::shared_ptr<server::impl> srv, tcp::socket&& socket,
          std::shared_ptr<ssl::context> ctx)
      : srv_(std::move(srv)),
        ctx_(std::move(ctx)),
        timer_(socket.get_executor()),
        stream_(make_stream(std::move(socket))) {
    error_code ignored;
    peer_ = tcp_socket().remote_endpoint(ignored);
  }

  ~session() override {
    if constexpr (Tls) srv_->unregister_session(this);
  }

  void run() {
    net::dispatch(tcp_socket().get_executor(),
                  [self = this->shared_from_this()] { self->start(); });
  }

  void drain() override {
    net::post(tcp_socket().get_executor(), [self = this->shared_from_this()] {
      if (self->phase_ == phase::idle) self->close_socket();
    });
  }

  void force_close() override {
    net::post(tcp_socket().get_executor(),
              [self = this->shared_from_this()] { self->close_socket(); });
  }

 private:
  enum class phase { handshake, idle, header, body, handling, write, closing };

  stream_type make_stream(tcp::socket&& socket) {
    if constexpr (Tls) {
      return stream_type(std::move(socket), *ctx_);
    } else {
      return std::move(socket);
    }
  }

  tcp::socket& tcp_socket() {
    if constexpr (Tls) {
      return stream_.socket();
    } else {
      return stream_;
    }
  }

  template <typename Handler>
  void write(net::const_buffer buffer, Handler&& handler) {
    if constexpr (Tls) {
      stream_.async_write(buffer, std::forward<Handler>(handler));
    } else {
      net::async_write(stream_, buffer, std::forward<Handler>(handler));
    }
  }

  static std::string_view phase_name(phase p) {
    switch (p) {
      case phase::handshake:
        return "tls handshake";
      case phase::idle:
        return "idle wait";
      case phase::header:
        return "header read";
      case phase::body:
        return "body read";
      case phase::handling:
        return "handling";
      case phase::write:
        return "write";
      case phase::closing:
        return "closing";
    }
    return "";
  }

  // Enters a phase with its own deadline. The timer never waits longer than the shortest timeout,
  // so a later phase's deadline is never earlier than the pending wake-up and moving it needs no
  // re-arm; only the short closing deadline re-arms.
  void enter(phase p, std::chrono::milliseconds timeout) {
    phase_ = p;
    const auto now = clock::now();
    deadline_ = now + timeout;
    if (!timer_armed_ || deadline_ < timer_expiry_) arm_timer(now);
  }

  void arm_timer(clock::time_point now) {
    timer_armed_ = true;
    timer_expiry_ = std::min(deadline_, now + srv_->shortest_timeout_);
    timer_.expires_at(timer_expiry_);  // cancels a pending wait, which then returns early
    timer_.async_wait([self = this->shared_from_this()](error_code ec) { self->on_timer(ec); });
  }

  void on_timer(error_code ec) {
    if (ec == net::error::operation_aborted) return;
    timer_armed_ = false;
    if (closed_) return;
    const auto now = clock::now();
    if (now < deadline_) return arm_timer(now);
    timed_out_ = true;
    close_socket();  // the pending operation fails and reports the timeout
  }

  void start() {
    if constexpr (Tls) {
      enter(phase::handshake, srv_->opts_.handshake_timeout);
      stream_.async_handshake(
          beast::bind_front_handler(&session::on_handshake, this->shared_from_this()));
    } else {
      read_next();
    }
  }

  void on_handshake(error_code ec, std::size_t) {
    if (ec) return fail(ec);
    read_next();
  }

  void read_next() {
    if (Tls && srv_->draining_.load()) return close_socket();
    parser_.emplace(head_, body_);
    parser_->header_limit(static_cast<std::uint32_t>(srv_->opts_.max_header_bytes));
    parser_->body_limit(srv_->opts_.max_body_bytes);
    if (buffer_.size() > 0) return parse();  // pipelined: the next request is already here
    enter(phase::idle, srv_->opts_.idle_timeout);
    read_some();
  }

  void read_some() {
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            beast::bind_front_handler(&session::on_read, this->shared_from_this()));
  }

  void on_read(error_code ec, std::size_t n) {
    if (ec) return fail(ec);
    buffer_.commit(n);
    parse();
  }

  void parse() {
    error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    if (ec == http::error::body_limit) return too_large();
    if (ec == http::error::header_limit) {
      return respond_error(431, "request header fields too large");
    }
    if (ec) return respond_error(400, "malformed HTTP request: " + ec.message());
    if (parser_->is_done()) return handle();
    // The header timeout starts with the first byte, so idling and trickling are bounded apart.
    if (!parser_->is_header_done()) {
      if (phase_ != phase::header) enter(phase::header, srv_->opts_.header_timeout);
      return read_some();
    }
    if (phase_ != phase::body) {
      enter(phase::body, srv_->opts_.body_timeout);
      if (head_.expect_continue) return send_continue();
    }
    read_some();
  }

  void send_continue() {
    static constexpr std::string_view line = "HTTP/1.1 100 Continue\r\n\r\n";
    write(net::buffer(line.data(), line.size()),
          [self = this->shared_from_this()](error_code ec, std::size_t) {
            if (ec) return self->fail(ec);
            self->read_some();
          });
  }

  void handle() {
    phase_ = phase::handling;
    const auto kind = Tls ? listener_kind::webhook : listener_kind::metrics;
    const route_match m = match_route(head_.method, head_.target, kind);
    constexpr std::string_view text = "text/plain; charset=utf-8";
    if (m.target == route::not_found) {
      return respond(404, text, "404 page not found: " + std::string(path_of(head_.target)));
    }
    if (!m.method_allowed) {
      return respond(405, text,
                     "method " + head_.method + " not allowed on " +
                         std::string(path_of(head_.target)) + "; allowed: " + std::string(m.allow),
                     m.allow);
    }
    switch (m.target) {
      case route::mutate:
        return admit("mutate", srv_->routes_.mutate);
      case route::validate:
        return admit("validate", srv_->routes_.validate);
      case route::healthz:
        return respond(200, text, "ok");
      case route::readyz: {
        const std::string_view why = srv_->not_ready_reason();
        if (!why.empty()) return respond(503, text, "not ready: " + std::string(why));
        return respond(200, text, "ok");
      }
      case route::metrics:
        return respond(200, "text/plain; version=0.0.4; charset=utf-8",
                       srv_->metrics_.render() +
                           (srv_->hooks_.extra_metrics ? srv_->hooks_.extra_metrics() : ""));
      case route::status: {
        auto status = srv_->status_json();
        if (!status) return respond(503, text, "no configuration loaded");
        return respond(200, "application/json", *status);
      }
      case route::not_found:
        break;
    }
  }

  void admit(std::string_view webhook, admission::handler* h) {
    constexpr std::string_view text = "text/plain; charset=utf-8";
    if (h == nullptr) return respond(404, text, "no " + std::string(webhook) + " webhook here");
    if (!is_json_content_type(head_.content_type)) {
      const std::string got = head_.has_content_type ? "'" + head_.content_type + "'" : "none";
      return respond(415, text, "Content-Type must be application/json, got " + got);
    }
    auto& m = srv_->metrics_;
    m.add_in_flight(1);
    const auto start = clock::now();
    admission::review_outcome outcome = admission::process_review(body_, *h);
    const double seconds = seconds_since(start);
    m.add_in_flight(-1);
    m.observe_admission(webhook, outcome.kind, outcome.operation, outcome.decision, seconds);
    for (const auto& v : outcome.violations) m.count_violation(v.rule, v.mode);
    if (outcome.error.empty()) {
      if (logging::enabled(level_enum::info)) {
        logging::event(level_enum::info, "admission",
                       {{"webhook", webhook},
                        {"uid", outcome.uid},
                        {"kind", outcome.kind},
                        {"namespace", outcome.namespace_name},
                        {"name", outcome.name},
                        {"operation", outcome.operation},
                        {"decision", outcome.decision},
                        {"latency_ms", seconds * 1e3}});
      }
    } else {
      logging::event(level_enum::warn, "admission request rejected",
                     {{"webhook", webhook},
                      {"uid", outcome.uid},
                      {"code", static_cast<int>(outcome.http_status)},
                      {"error", outcome.error},
                      {"peer", endpoint_text(peer_)},
                      {"latency_ms", seconds * 1e3}});
    }
    response_body_ = std::move(outcome.body);
    respond_stored(outcome.http_status, "application/json");
  }

  void too_large() {
    // Answer at once and close; the rest of the body is never read into memory.
    linger_after_write_ = true;
    respond_error(
        413, "request body larger than " + std::to_string(srv_->opts_.max_body_bytes) + " bytes");
  }

  void respond_error(unsigned status, std::string message) {
    force_close_after_write_ = true;
    respond(status, "text/plain; charset=utf-8", std::move(message));
  }

  void respond(unsigned status, std::string_view content_type, std::string body,
               std::string_view allow = {}) {
    response_body_ = std::move(body);
    respond_stored(status, content_type, allow);
  }

  void respond_stored(unsigned status, std::string_view content_type, std::string_view allow = {}) {
    keep_alive_ = !force_close_after_write_ && parser_->is_done() && parser_->keep_alive() &&
                  !(Tls && srv_->draining_.load());
    out_.clear();
    out_ += "HTTP/1.1 ";
    out_ += std::to_string(status);
    out_ += ' ';
    const auto reason = http::obsolete_reason(http::int_to_status(status));
    out_.append(reason.data(), reason.size());
    out_ += "\r\nContent-Type: ";
    out_ += content_type;
    out_ += "\r\nContent-Length: ";
    out_ += std::to_string(response_body_.size());
    if (!allow.empty()) {
      out_ += "\r\nAllow: ";
      out_ += allow;
    }
    if (!keep_alive_)
      out_ += "\r\nConnection: close";
    else if (head_.version == 10)
      out_ += "\r\nConnection: keep-alive";
    out_ += "\r\n\r\n";
    out_ += response_body_;
    srv_->metrics_.count_http(status);
    enter(phase::write, srv_->opts_.write_timeout);
    write(net::buffer(out_),
          beast::bind_front_handler(&session::on_write, this->shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    if (ec) return fail(ec);
    // A 7 MiB body once must not pin 7 MiB per idle connection.
    if (body_.capacity() > (1u << 20)) std::string().swap(body_);
    if (response_body_.capacity() > (1u << 20)) std::string().swap(response_body_);
    if (!keep_alive_) return close_gracefully();
    read_next();
  }

  // After a 413 the client may still be sending: half-close, then discard (not buffer) what comes
  // for a second at most, so closing with unread data does not reset the connection before the
  // client has read the answer.
  void close_gracefully() {
    enter(phase::closing, std::chrono::seconds(1));
    if (linger_after_write_) {
      error_code ignored;
      tcp_socket().shutdown(tcp::socket::shutdown_send, ignored);
      discard_.resize(16 * 1024);
      return linger();
    }
    if constexpr (Tls) stream_.send_close_notify();  // without waiting for the peer's
    close_socket();
  }

  void linger() {
    tcp_socket().async_read_some(net::buffer(discard_),
                                 [self = this->shared_from_this()](error_code ec, std::size_t) {
                                   if (ec) return self->close_socket();
                                   self->linger();
                                 });
  }

  void close_socket() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ignored;
    tcp_socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_socket().close(ignored);
  }

  // The one place I/O errors are reported.
  void fail(error_code ec) {
    const bool handshake = phase_ == phase::handshake;
    if (handshake) srv_->metrics_.count_tls_handshake_error();
    const bool quiet =
        !handshake && (ec == net::error::eof || ec == net::error::operation_aborted ||
                       ec == net::error::connection_reset || ec == ssl::error::stream_truncated);
    const auto level = timed_out_ ? level_enum::info
                       : quiet    ? level_enum::trace
                                  : level_enum::debug;
    if (logging::enabled(level)) {
      logging::event(level, timed_out_ ? "connection timed out" : "connection closed",
                     {{"stage", phase_name(phase_)},
                      {"error", timed_out_ ? std::string("deadline passed") : ec.message()},
                      {"peer", endpoint_text(peer_)}});
    }
    close_socket();
  }

  std::shared_ptr<server::impl> srv_;
  std::shared_ptr<ssl::context> ctx_;  // the pair this connection started with
  net::steady_timer timer_;
  stream_type stream_;
  beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  request_head head_;
  std::string body_;
  std::string response_body_;
  std::string out_;
  std::vector<char> discard_;
  tcp::endpoint peer_;
  clock::time_point deadline_{};
  clock::time_point timer_expiry_{};
  phase phase_ = phase::handshake;
  bool timer_armed_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
  bool keep_alive_ = false;
  bool force_close_after_write_ = false;
  bool linger_after_write_ = false;
};

}  // namespace

void server::impl::accept_webhook() {
  acceptor_.async_accept(session_executor(), [self = shared_from_this()](error_code ec,
                                                                         tcp::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: say so and try again shortly instead of spinning.
      logging::event(level_enum::err, "accept failed", {{"error", ec.message()}});
      auto timer = std::make_shared<net::steady_timer>(self->io_, std::chrono::milliseconds(100));
      timer->async_wait([self, timer](error_code) { self->accept_webhook(); });
      return;
    }
    auto ctx = self->certs_.current();
    if (!ctx) {
      // No pair yet (waiting for the Secret): nothing to handshake with.
      error_code ignored;
      socket.close(ignored);
    } else if (self->open_connections_.load() >= self->opts_.max_connections) {
      self->on_capacity_reached(socket);
    } else {
      self->open_connections_.fetch_add(1);
      // Answers are single writes; Nagle would hold one back waiting for the client's ACK.
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto s = std::make_shared<session<true>>(self, std::move(socket), std::move(ctx));
      self->register_session(s);
      s->run();
    }
    self->accept_webhook();
  });
}

void server::impl::on_capacity_reached(tcp::socket& socket) {
  metrics_.count_connection_rejected();
  error_code ignored;
  socket.close(ignored);
  // One line per second at most: a flood must not turn into a log flood.
  std::lock_guard lock(sessions_mutex_);
  ++rejected_since_log_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_cap_log_ >= std::chrono::seconds(1)) {
    logging::event(level_enum::warn,
                   "connection limit reached; closing new connections until some close",
                   {{"max_connections", static_cast<std::uint64_t>(opts_.max_connections)},
                    {"rejected", static_cast<std::uint64_t>(rejected_since_log_)}});
    rejected_since_log_ = 0;
    last_cap_log_ = now;
  }
}

void server::impl::accept_metrics() {
  metrics_acceptor_.async_accept(
      session_executor(), [self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !self->metrics_acceptor_.is_open()) return;
        if (!ec) std::make_shared<session<false>>(self, std::move(socket), nullptr)->run();
        self->accept_metrics();
      });
}

server::server(net::io_context& io, options opts, routes r, config_hooks hooks)
    : impl_(std::make_shared<impl>(io, std::move(opts), r, std::move(hooks))) {}

server::~server() {
  error_code ignored;
  impl_->acceptor_.close(ignored);
  impl_->metrics_acceptor_.close(ignored);
  impl_->reload_timer_.cancel();
  impl_->grace_timer_.cancel();
}

void server::start() {
  auto& s = *impl_;
  // OpenSSL writes to the sockets itself (tls_stream), without MSG_NOSIGNAL: a peer that went away
  // must be an EPIPE error, not a signal that kills the process. Servers ignore SIGPIPE anyway.
  std::signal(SIGPIPE, SIG_IGN);
  s.load_initial_config();
  s.reload_certificate(true);
  impl::listen(s.acceptor_, s.opts_.bind_address, s.opts_.port, "webhook listener");
  s.port_ = s.acceptor_.local_endpoint().port();
  if (s.opts_.metrics_bind_address != "0") {
    std::string host;
    std::uint16_t port = 0;
    if (!split_host_port(s.opts_.metrics_bind_address, host, port)) {
      throw std::runtime_error("--metrics-bind-address: not host:port: '" +
                               s.opts_.metrics_bind_address + "'");
    }
    impl::listen(s.metrics_acceptor_, host, port, "metrics listener");
    s.metrics_port_ = s.metrics_acceptor_.local_endpoint().port();
  }
  s.started_.store(true);
  logging::event(level_enum::info, "serving",
                 {{"address", s.opts_.bind_address},
                  {"port", static_cast<int>(s.port_)},
                  {"metrics_port", static_cast<int>(s.metrics_port_)},
                  {"threads", static_cast<int>(s.opts_.threads)}});
  s.accept_webhook();
  if (s.metrics_acceptor_.is_open()) s.accept_metrics();
  s.schedule_reload();
}

std::uint16_t server::port() const {
  return impl_->port_;
}
std::uint16_t server::metrics_port() const {
  return impl_->metrics_port_;
}

bool server::ready() const {
  return impl_->not_ready_reason().empty();
}

std::string server::set_certificate(std::string_view cert_pem, std::string_view key_pem) {
  auto& s = *impl_;
  const auto result = s.certs_.load_pem(cert_pem, key_pem);
  if (result.outcome == certificate_store::status::failed) return result.error;
  if (result.outcome == certificate_store::status::reloaded) {
    const auto m = s.certs_.material();
    s.metrics_.set_certificate_expiry(m.not_after);
    logging::event(level_enum::info, "certificate loaded",
                   {{"source", "secret"},
                    {"serial", m.serial_hex},
                    {"not_after", static_cast<std::uint64_t>(m.not_after)}});
  }
  return {};
}

void server::reload_now() {
  net::post(impl_->io_, [self = impl_] { self->reload_all(); });
}

void server::begin_shutdown() {
  impl_->begin_shutdown();
}

metrics& server::stats() {
  return impl_->metrics_;
}

}  // namespace mlnetpol::server
