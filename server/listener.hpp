#pragma once
// One listening socket: the accept loop, the connection caps (webhook listener) and the drain.
// At --max-connections a new connection closes the one that has waited longest on its client
// (TLS handshake, or idle between requests), so a flood of idle connections cannot keep the API
// server out; only when every connection is busy is the new one refused. From one address at most
// --max-connections-per-peer are open.
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
  // Counts a new connection from `peer` in, or says why not; at the cap picks a connection to
  // evict (`victim`, null when the one picked is already closing).
  enum class admission { admitted, peer_limit, full };
  admission admit(const std::string& peer, std::shared_ptr<session_base>& victim);
  void refuse(boost::asio::ip::tcp::socket& socket, connection_refusal why);
  void finish(std::string_view why);
  std::vector<std::shared_ptr<session_base>> live_sessions();

  boost::asio::io_context& io_;
  std::shared_ptr<server_state> state_;
  const listener_kind kind_;
  const tls_source tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer grace_timer_;
  std::uint16_t port_ = 0;

  // Open TLS connections, for the connection caps and the drain.
  struct tracked {
    std::weak_ptr<session_base> session;
    std::string peer;       // the key in per_peer_
    bool evicting = false;  // asked to close to make room, not closed yet
  };
  std::mutex sessions_mutex_;
  std::unordered_map<session_base*, tracked> sessions_;
  std::unordered_map<std::string, std::size_t> per_peer_;  // open connections by peer address
  std::size_t evicting_ = 0;                               // sessions_ entries with `evicting`
  std::atomic<std::size_t> open_connections_{0};
  std::chrono::steady_clock::time_point last_cap_log_{};
  std::size_t rejected_since_log_ = 0;

  std::atomic<bool> draining_{false};
  std::atomic<bool> finished_{false};
  std::function<void(std::string_view)> on_drained_;
};

}  // namespace mlnetpol::server
