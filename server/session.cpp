#include "server/session.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/obs/logging.hpp"
#include "server/connection_deadline.hpp"
#include "server/http_parser.hpp"
#include "server/response_buffer.hpp"
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

// One connection: TLS (webhook listener) or plain (metrics listener), HTTP/1.1 keep-alive.
// Reads go straight into Beast's parser from one buffer; each phase (handshake, idle, header,
// body, write) has its deadline (connection_deadline.hpp); each response is laid out once in the
// connection's write buffer (response_buffer.hpp).
template <bool Tls>
class session final : public session_base, public std::enable_shared_from_this<session<Tls>> {
  using stream_type = std::conditional_t<Tls, tls_stream, tcp::socket>;
  using clock = std::chrono::steady_clock;

 public:
  session(std::shared_ptr<server_state> state, std::shared_ptr<session_owner> owner,
          tcp::socket&& socket, std::shared_ptr<ssl::context> ctx)
      : srv_(std::move(state)),
        owner_(std::move(owner)),
        ctx_(std::move(ctx)),
        deadline_(socket.get_executor(), srv_->shortest_timeout),
        stream_(make_stream(std::move(socket))) {
    error_code ignored;
    peer_ = tcp_socket().remote_endpoint(ignored);
    // Waiting on the client from the accept, before start() runs on its thread: a flood faster
    // than the I/O threads start sessions must still find room to take.
    if constexpr (Tls) waiting_since_.store(clock::now().time_since_epoch().count());
  }

  ~session() override {
    if (owner_) owner_->release(this);
  }

  void run() override {
    net::dispatch(tcp_socket().get_executor(),
                  [self = this->shared_from_this()] { self->start(); });
  }

  void drain() override {
    net::post(tcp_socket().get_executor(), [self = this->shared_from_this()] {
      if (self->phase_ == phase::idle) self->shorten_idle_wait();
    });
  }

  void force_close() override {
    net::post(tcp_socket().get_executor(),
              [self = this->shared_from_this()] { self->close_socket(); });
  }

  void evict() override {
    net::post(tcp_socket().get_executor(), [self = this->shared_from_this()] {
      if (self->closed_ || self->evicted_) return;
      self->evicted_ = true;
      // Bytes of a request already here: answer it (Connection: close) rather than reset it.
      if (self->phase_ == phase::handshake)
        return self->close_evicted(eviction_state::tls_handshake);
      if (self->phase_ == phase::idle && !self->request_arriving()) {
        return self->close_evicted(eviction_state::idle);
      }
      self->srv_->stats.count_connection_evicted(eviction_state::busy);
    });
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

  // Enters a phase with its own deadline (connection_deadline.hpp: usually no timer operation).
  void enter(phase p, std::chrono::milliseconds timeout) {
    const auto now = clock::now();
    set_phase(p, now);
    deadline_.set(now + timeout, now, [this] { return wake_handler(); });
  }

  // Every phase change goes through here: the listener sees which connections wait on the client.
  void set_phase(phase p, clock::time_point now) {
    phase_ = p;
    const bool waiting = p == phase::handshake || p == phase::idle;
    waiting_since_.store(waiting ? now.time_since_epoch().count() : 0, std::memory_order_relaxed);
  }

  auto wake_handler() {
    return [self = this->shared_from_this()](error_code ec) { self->on_timer(ec); };
  }

  void on_timer(error_code ec) {
    if (ec == net::error::operation_aborted) return;
    deadline_.fired();
    if (closed_) return;
    const auto now = clock::now();
    if (!deadline_.passed(now)) return deadline_.rearm(now, wake_handler());
    if (phase_ == phase::idle && request_arriving()) {
      // The next request's first bytes are here but not yet parsed: closing now would reset the
      // connection under a request the client already sent. They count as the header phase.
      return enter(phase::header, srv_->opts.header_timeout);
    }
    if (phase_ == phase::idle && draining()) {
      closed_for_drain_ = true;
    } else {
      timed_out_ = true;
    }
    close_socket();  // the pending operation fails and reports the timeout
  }

  bool draining() const { return Tls && srv_->draining.load(); }

  // Bytes received and not yet read by the session (in the socket, or in OpenSSL's read-ahead).
  bool request_arriving() {
    error_code ec;
    if (tcp_socket().available(ec) > 0 && !ec) return true;
    if constexpr (Tls) return SSL_has_pending(stream_.native_handle()) == 1;
    return false;
  }

  // Draining and idle: wait a short while more (the drain window), not the whole idle timeout,
  // for a request the client may already have sent on this connection; it is answered with
  // Connection: close. Never lengthens the wait.
  void shorten_idle_wait() {
    const auto now = clock::now();
    const auto until = now + srv_->drain_idle_window;
    if (until >= deadline_.at()) return;
    deadline_.set(until, now, [this] { return wake_handler(); });
  }

  void start() {
    if constexpr (Tls) {
      enter(phase::handshake, srv_->opts.handshake_timeout);
      stream_.async_handshake(
          beast::bind_front_handler(&session::on_handshake, this->shared_from_this()));
    } else {
      read_next();
    }
  }

  void on_handshake(error_code ec, std::size_t) {
    if (ec) return fail(ec);
    if constexpr (Tls) {
      // The CA check happened in the handshake; the allowed names are answered with 403 (an
      // authenticated caller that may not use this server), on every request of the connection.
      if (!srv_->opts.client_ca_file.empty()) {
        refusal_ = client_refusal(stream_.native_handle(), srv_->opts.client_allowed_names);
        if (!refusal_.empty()) {
          logging::event(level_enum::info, "client certificate refused",
                         {{"reason", refusal_}, {"peer", endpoint_text(peer_)}});
        }
      }
    }
    read_next();
  }

  void read_next() {
    // Evicted (and counted busy) after its response said keep-alive: close now, between requests.
    if (evicted_) {
      closed_for_eviction_ = true;
      return close_socket();
    }
    parser_.emplace(head_, body_);
    parser_->header_limit(static_cast<std::uint32_t>(srv_->opts.max_header_bytes));
    parser_->body_limit(srv_->opts.max_body_bytes);
    if (buffer_.size() > 0) return parse();  // pipelined: the next request is already here
    enter(phase::idle, srv_->opts.idle_timeout);
    if (draining()) shorten_idle_wait();
    read_some();
  }

  void read_some() {
    const auto room = buffer_.prepare(16 * 1024);
    read_end_ = static_cast<const char*>(room.data()) + room.size();
    stream_.async_read_some(room,
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
      // A body that came whole in buffer_ stays there: buffer_ is not written again before the
      // request is answered (the next read_some comes after the response's write).
      const char* begin = static_cast<const char*>(buffer_.data().data());
      parser_->read_buffer(begin, read_end_ != nullptr ? read_end_ : begin + buffer_.size());
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    after_put(ec);
  }

  // What follows the parser's last input, whether it came through buffer_ or was read in place.
  void after_put(error_code ec) {
    if (ec == http::error::body_limit) return too_large();
    if (ec == http::error::header_limit) {
      return respond_error(431, "request header fields too large");
    }
    if (ec) return respond_error(400, "malformed HTTP request: " + ec.message());
    if (parser_->is_done()) return handle();
    // The header timeout starts with the first byte, so idling and trickling are bounded apart.
    if (!parser_->is_header_done()) {
      if (phase_ != phase::header) enter(phase::header, srv_->opts.header_timeout);
      return read_some();
    }
    if (phase_ != phase::body) {
      enter(phase::body, srv_->opts.body_timeout);
      if (head_.expect_continue) return send_continue();
    }
    read_body();
  }

  // The rest of a body of known length is read straight into the body's storage, not through
  // buffer_ (whose bytes the parser would copy there): never past the body, so a pipelined next
  // request stays for buffer_.
  void read_body() {
    const auto remaining = parser_->content_length_remaining();
    if (!remaining || *remaining == 0 || parser_->chunked() || buffer_.size() > 0) {
      return read_some();
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(*remaining, 64 * 1024));
    stream_.async_read_some(
        net::buffer(body_.free_space(n), n),
        beast::bind_front_handler(&session::on_body_read, this->shared_from_this()));
  }

  void on_body_read(error_code ec, std::size_t n) {
    if (ec) return fail(ec);
    // The bytes are already in place: the parser counts them and appends without a copy.
    parser_->read_buffer(nullptr, nullptr);
    const std::size_t used = parser_->put(net::buffer(body_.view().data() + body_.size(), n), ec);
    if (!ec && used != n) ec = http::error::unexpected_body;
    after_put(ec);
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
    set_phase(phase::handling, {});  // not waiting on the client: no time needed
    if (!refusal_.empty()) return respond_error(403, refusal_);
    http_request request;
    request.method = head_.method;
    request.target = head_.target;
    request.path = path_of(head_.target);
    request.content_type = head_.content_type;
    request.has_content_type = head_.has_content_type;
    request.body = body_.view();
    request.body_padding = body_.padding();
    if (peer_text_.empty()) peer_text_ = endpoint_text(peer_);
    request.peer = peer_text_;
    response_.buffer = out_.body_room();
    response_.in_place = false;
    srv_->routes.serve(Tls ? listener_kind::webhook : listener_kind::metrics, request, response_);
    respond_stored();
  }

  void too_large() {
    // Answer at once and close; the rest of the body is never read into memory.
    linger_after_write_ = true;
    respond_error(
        413, "request body larger than " + std::to_string(srv_->opts.max_body_bytes) + " bytes");
  }

  void respond_error(unsigned status, std::string message) {
    force_close_after_write_ = true;
    response_.status = status;
    response_.content_type = text_plain;
    response_.body = std::move(message);
    response_.allow = {};
    response_.in_place = false;
    respond_stored();
  }

  // The response goes out in one write from the connection's buffer (response_buffer.hpp).
  void respond_stored() {
    keep_alive_ = !force_close_after_write_ && parser_->is_done() && parser_->keep_alive() &&
                  !draining() && !evicted_;
    out_view_ = net::buffer(out_.compose(response_, keep_alive_, head_.version));
    srv_->stats.count_http(response_.status);
    enter(phase::write, srv_->opts.write_timeout);
    // Posted, not written at once: the requests one wake-up of the event loop delivered are all
    // handled first and their responses then go out back to back, so a client waiting on many
    // connections is woken less often (about 3 % less CPU per request, bench/README).
    net::post(tcp_socket().get_executor(), [self = this->shared_from_this()] {
      self->write(self->out_view_, beast::bind_front_handler(&session::on_write, self));
    });
  }

  void on_write(error_code ec, std::size_t) {
    if (ec) return fail(ec);
    // A 7 MiB body once must not pin 7 MiB per idle connection.
    body_.shrink_if_over(1u << 20);
    if (response_.body.capacity() > (1u << 20)) std::string().swap(response_.body);
    out_.shrink_if_over(1u << 20);
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

  // Closed to make room at the connection cap (the listener already counts it as going).
  void close_evicted(eviction_state state) {
    srv_->stats.count_connection_evicted(state);
    closed_for_eviction_ = true;
    close_socket();
  }

  void close_socket() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    error_code ignored;
    tcp_socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_socket().close(ignored);
  }

  // The one place I/O errors are reported.
  void fail(error_code ec) {
    const bool handshake = phase_ == phase::handshake;
    if (handshake && !closed_for_eviction_) srv_->stats.count_tls_handshake_error();
    const bool quiet =
        !handshake && (ec == net::error::eof || ec == net::error::operation_aborted ||
                       ec == net::error::connection_reset || ec == ssl::error::stream_truncated);
    const auto level = timed_out_ ? level_enum::info
                       : quiet    ? level_enum::trace
                                  : level_enum::debug;
    if (closed_for_drain_ || closed_for_eviction_) {
      if (logging::enabled(level_enum::debug)) {
        logging::event(level_enum::debug,
                       closed_for_drain_ ? "idle connection closed: draining"
                                         : "connection closed: room for a new one at the cap",
                       {{"stage", phase_name(phase_)}, {"peer", endpoint_text(peer_)}});
      }
    } else if (logging::enabled(level)) {
      logging::event(level, timed_out_ ? "connection timed out" : "connection closed",
                     {{"stage", phase_name(phase_)},
                      {"error", timed_out_ ? std::string("deadline passed") : ec.message()},
                      {"peer", endpoint_text(peer_)}});
    }
    close_socket();
  }

  std::shared_ptr<server_state> srv_;
  std::shared_ptr<session_owner> owner_;
  std::shared_ptr<ssl::context> ctx_;  // the pair this connection started with
  connection_deadline deadline_;
  stream_type stream_;
  beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  request_head head_;
  request_body body_;
  http_response response_;
  std::string peer_text_;
  std::string refusal_;  // why this connection's client may not be served ("" = it may)
  response_buffer out_;
  net::const_buffer out_view_;      // the response being written, in out_
  const char* read_end_ = nullptr;  // the end of the room buffer_ gave the last read
  std::vector<char> discard_;
  tcp::endpoint peer_;
  phase phase_ = phase::handshake;
  bool timed_out_ = false;
  bool closed_for_drain_ = false;  // idle for the drain window
  bool evicted_ = false;           // asked to make room at the connection cap
  bool closed_for_eviction_ = false;
  bool closed_ = false;
  bool keep_alive_ = false;
  bool force_close_after_write_ = false;
  bool linger_after_write_ = false;
};

}  // namespace

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::shared_ptr<session_base> make_tls_session(std::shared_ptr<server_state> state,
                                               std::shared_ptr<session_owner> owner,
                                               tcp::socket&& socket,
                                               std::shared_ptr<ssl::context> ctx) {
  return std::make_shared<session<true>>(std::move(state), std::move(owner), std::move(socket),
                                         std::move(ctx));
}

std::shared_ptr<session_base> make_plain_session(std::shared_ptr<server_state> state,
                                                 tcp::socket&& socket) {
  return std::make_shared<session<false>>(std::move(state), nullptr, std::move(socket), nullptr);
}

}  // namespace mlnetpol::server
