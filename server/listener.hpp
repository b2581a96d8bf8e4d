#pragma once
// One listening socket: the accept loop, the connection cap (webhook listener) and the drain.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/session.hpp"

namespace mlnetpol::server {

class listener final : public session_owner, public std::enable_shared_from_this<listener> {
 public:
  // The context for each new TLS connection; null for the plain-HTTP metrics listener.
  using tls_source = std::function<std::shared_ptr<boost::asio::ssl::context>()>;

  listener(boost::asio::io_context& io, std::shared_ptr<server_state> state, listener_kind kind,
           tls_source tls);

  // Binds and listens; throws std::runtime_error naming `what`, the step and the address.
  void listen(const std::string& host, std::uint16_t port, std::string_view what);
  std::uint16_t port() const { return port_; }
  bool is_open() const { return acceptor_.is_open(); }

  void start();  // the accept loop
  void close();  // stops accepting; open connections stay

  // Stops accepting, tells each connection to drain (session_base::drain); `done` runs
  // once (on an I/O thread) when the last one closed or the grace period is over.
  void drain(std::chrono::milliseconds grace, std::function<void(std::string_view why)> done);

  std::size_t open_connections() const { return open_connections_.load(); }
  void release(session_base* s) override;

 private:
  void accept();
  // Hands an accepted socket to the next I/O thread's io_context (no-op with one I/O thread).
  boost::system::error_code move_to_connection_thread(boost::asio::ip::tcp::socket& socket);
  void on_capacity_reached(boost::asio::ip::tcp::socket& socket);
  void finish(std::string_view why);
  std::vector<std::shared_ptr<session_base>> live_sessions();

  boost::asio::io_context& io_;
  std::shared_ptr<server_state> state_;
  const listener_kind kind_;
  const tls_source tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer grace_timer_;
  std::uint16_t port_ = 0;

  // Open TLS connections, for the connection cap and the drain.
  std::mutex sessions_mutex_;
  std::unordered_map<session_base*, std::weak_ptr<session_base>> sessions_;
  std::atomic<std::size_t> open_connections_{0};
  std::chrono::steady_clock::time_point last_cap_log_{};
  std::size_t rejected_since_log_ = 0;

  std::atomic<bool> draining_{false};
  std::atomic<bool> finished_{false};
  std::function<void(std::string_view)> on_drained_;
};

}  // namespace mlnetpol::server
