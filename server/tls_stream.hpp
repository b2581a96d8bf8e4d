#pragma once
// A server-side TLS stream that lets OpenSSL read and write the socket itself (SSL_set_fd) and
// uses Asio only to wait for readiness. Asio's ssl::stream goes through a memory BIO pair, which
// copies every record once more and runs a longer state machine per call; on the admission hot
// path that was measurable. Handlers complete through the socket's executor, never inline.
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
    drive([this](std::size_t&) { return SSL_do_handshake(ssl_); }, std::forward<Handler>(handler));
  }

  // Handler: void(error_code, std::size_t). eof after the peer's close_notify.
  template <typename Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    drive([this,
           buffer](std::size_t& n) { return SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n); },
          std::forward<Handler>(handler));
  }

  // Writes the whole buffer (SSL_write without partial writes), then calls the handler.
  template <typename Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    drive([this,
           buffer](std::size_t& n) { return SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n); },
          std::forward<Handler>(handler));
  }

  // Sends close_notify if the socket takes it now; does not wait for the peer's.
  void send_close_notify() {
    if (ssl_ == nullptr) return;
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }

 private:
  // Runs `op` until it succeeds or fails, waiting for the socket when OpenSSL wants it.
  // op returns OpenSSL's result (1 = success for the _ex calls and the handshake).
  template <typename Op, typename Handler>
  void drive(Op op, Handler&& handler) {
    if (ssl_ == nullptr) {
      return complete(boost::asio::error::no_memory, 0, std::forward<Handler>(handler));
    }
    // SSL_get_error needs an empty error queue; clearing one that is already empty (nearly always)
    // still walks all its slots, so look first.
    if (ERR_peek_error() != 0) ERR_clear_error();
    std::size_t n = 0;
    errno = 0;
    const int result = op(n);
    const int saved_errno = errno;
    if (result == 1) return complete({}, n, std::forward<Handler>(handler));
    const int reason = SSL_get_error(ssl_, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
      socket_.async_wait(
          reason == SSL_ERROR_WANT_READ ? socket_type::wait_read : socket_type::wait_write,
          [this, op = std::move(op), h = std::forward<Handler>(handler)](error_code ec) mutable {
            if (ec) return std::move(h)(ec, std::size_t{0});
            drive(std::move(op), std::move(h));
          });
      return;
    }
    complete(error_for(reason, saved_errno), 0, std::forward<Handler>(handler));
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

  template <typename Handler>
  void complete(error_code ec, std::size_t n, Handler&& handler) {
    boost::asio::post(socket_.get_executor(), [h = std::forward<Handler>(handler), ec,
                                               n]() mutable { std::move(h)(ec, n); });
  }

  socket_type socket_;
  SSL* ssl_;
};

}  // namespace mlnetpol::server
