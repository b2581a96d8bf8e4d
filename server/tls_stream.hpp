#pragma once
// A server-side TLS stream that lets OpenSSL read and write the socket itself (SSL_set_fd) and
// uses Asio only to wait for readiness. Asio's ssl::stream goes through a memory BIO pair, which
// copies every record once more and runs a longer state machine per call; on the admission hot
// path that was measurable. Handlers complete through the socket's executor, never inline.
//
// Waiting on the socket is an operation of Asio's reactor that retries OpenSSL's call itself
// (server/tls_reactor_op.hpp), as Asio's own receive does: started, it tries at once; if OpenSSL
// wants more bytes (or room) it stays queued on the socket's edge-triggered registration and tries
// again when they come. Asio's async_wait instead re-arms the descriptor with an epoll_ctl on
// every wait, and a read that had drained the socket was followed by one that found EAGAIN: two
// system calls per keep-alive request (bench/README.md: issue 27, waiting without epoll_ctl).
#include <cerrno>
#include <cstddef>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include "server/tls_reactor_op.hpp"

namespace mlnetpol::server {

class tls_stream {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using error_code = boost::system::error_code;

  tls_stream(socket_type&& socket, boost::asio::ssl::context& ctx)
      : socket_(std::move(socket)), ssl_(SSL_new(ctx.native_handle())) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
    if (ssl_ != nullptr) {
      SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
      SSL_set_accept_state(ssl_);
      SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      SSL_set_read_ahead(ssl_, 1);  // one recv per record instead of header + body
      BIO* socket_bio = SSL_get_rbio(ssl_);
      BIO_set_callback_ex(socket_bio, &watch_reads);
      BIO_set_callback_arg(socket_bio, reinterpret_cast<char*>(&drained_));
    }
  }
  ~tls_stream() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  socket_type& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }

  template <typename Handler>
  void async_handshake(Handler&& handler) {
    drive(
        tls_direction::read, [this](std::size_t&) { return SSL_do_handshake(ssl_); },
        std::forward<Handler>(handler));
  }

  // Handler: void(error_code, std::size_t). eof after the peer's close_notify.
  template <typename Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    drive(
        tls_direction::read,
        [this, buffer](std::size_t& n) {
          return SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
        },
        std::forward<Handler>(handler));
  }

  // Writes the whole buffer (SSL_write without partial writes), then calls the handler.
  template <typename Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    drive(
        tls_direction::write,
        [this, buffer](std::size_t& n) {
          return SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n);
        },
        std::forward<Handler>(handler));
  }

  // Sends close_notify if the socket takes it now; does not wait for the peer's.
  void send_close_notify() {
    if (ssl_ == nullptr) return;
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }

 private:
  // Runs `op` until it succeeds or fails, waiting in `direction` (reads and the handshake wait to
  // read, writes to write). op returns OpenSSL's result (1 = success for the _ex calls and the
  // handshake). When OpenSSL wants the other direction (a handshake message to send, a full send
  // buffer during the handshake, a renegotiation), the operation completes and starts again there.
  template <typename Op, typename Handler>
  void drive(tls_direction direction, Op op, Handler&& handler) {
    if (ssl_ == nullptr) {
      return boost::asio::post(socket_.get_executor(),
                               [h = std::forward<Handler>(handler)]() mutable {
                                 std::move(h)(boost::asio::error::no_memory, std::size_t{0});
                               });
    }
    start_tls_reactor_op(
        socket_, direction,
        [this, direction, op](error_code& ec, std::size_t& n) mutable {
          return attempt(direction, op, ec, n);
        },
        [this, direction, op, h = std::forward<Handler>(handler)](error_code ec,
                                                                  std::size_t n) mutable {
          if (ec != other_direction) return std::move(h)(ec, n);
          drive(direction == tls_direction::read ? tls_direction::write : tls_direction::read,
                std::move(op), std::move(h));
        });
  }

  // One try of `op` for an operation waiting in `direction`. OpenSSL reports a socket's EAGAIN
  // only as WANT_READ or WANT_WRITE, so `other_direction` (wait the other way) is no error of its.
  template <typename Op>
  attempt_result attempt(tls_direction direction, Op& op, error_code& ec, std::size_t& n) {
    // SSL_get_error needs an empty error queue; clearing one that is already empty (nearly always)
    // still walks all its slots, so look first.
    if (ERR_peek_error() != 0) ERR_clear_error();
    n = 0;
    errno = 0;
    drained_ = false;
    const int result = op(n);
    const int saved_errno = errno;
    if (result == 1) {
      ec = {};
      // Drained: the socket's last read came back short and OpenSSL holds nothing unread, so the
      // next read can wait for the socket's next edge without trying first.
      const bool drained =
          direction == tls_direction::read && drained_ && SSL_has_pending(ssl_) == 0;
      return drained ? attempt_result::done_drained : attempt_result::done;
    }
    n = 0;
    const int reason = SSL_get_error(ssl_, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
      const auto wanted =
          reason == SSL_ERROR_WANT_READ ? tls_direction::read : tls_direction::write;
      if (wanted == direction) return attempt_result::waiting;
      ec = other_direction;
      return attempt_result::done;
    }
    ec = error_for(reason, saved_errno);
    return attempt_result::done;
  }

  static constexpr boost::asio::error::basic_errors other_direction =
      boost::asio::error::would_block;

  // The socket BIO's callback: after each read, whether it left the socket empty (fewer bytes than
  // asked for, or none).
  static long watch_reads(BIO* bio, int oper, const char*, std::size_t len, int, long, int ret,
                          std::size_t* processed) {
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
      *reinterpret_cast<bool*>(BIO_get_callback_arg(bio)) =
          ret <= 0 || processed == nullptr || *processed < len;
    }
    return oper & BIO_CB_RETURN ? ret : 1;
  }

  // OpenSSL's verdict as the error codes Asio's own TLS stream would give.
  static error_code error_for(int reason, int saved_errno) {
    if (reason == SSL_ERROR_ZERO_RETURN) return boost::asio::error::eof;
    if (reason == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      if (saved_errno != 0)
        return error_code(saved_errno, boost::asio::error::get_system_category());
      return boost::asio::ssl::error::stream_truncated;
    }
    const unsigned long code = ERR_get_error();
    if (code == 0 || ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      return boost::asio::ssl::error::stream_truncated;  // the peer closed without close_notify
    }
    return error_code(static_cast<int>(code), boost::asio::error::get_ssl_category());
  }

  reactor_socket socket_;
  SSL* ssl_;
  bool drained_ = false;  // set by watch_reads
};

}  // namespace mlnetpol::server
