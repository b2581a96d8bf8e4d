#pragma once
// One connection: TLS (webhook listener) or plain HTTP (metrics listener), HTTP/1.1 keep-alive,
// a deadline per phase, answers through the mux.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "server/metrics.hpp"
#include "server/mux.hpp"
#include "server/options.hpp"

namespace mlnetpol::server {

// What the listeners and their sessions share; lives as long as the last of them.
struct server_state {
  explicit server_state(options o)
      : opts(std::move(o)),
        shortest_timeout(std::min({opts.handshake_timeout, opts.header_timeout, opts.body_timeout,
                                   opts.write_timeout, opts.idle_timeout})),
        drain_idle_window(std::min(opts.drain_idle_timeout, opts.shutdown_grace)) {}
  const options opts;
  // How often at most a connection's timer wakes up (see session::enter).
  const std::chrono::milliseconds shortest_timeout;
  // While draining, how long an idle connection still waits for a request (within the grace).
  const std::chrono::milliseconds drain_idle_window;
  metrics stats;
  mux routes{stats, opts.log_denies_per_second, opts.log_denies_burst};
  std::atomic<bool> draining{false};
  // Where new connections live, in turn: one single-threaded io_context per I/O thread (set before
  // the listeners start; empty: the listener's own io_context).
  std::vector<boost::asio::any_io_executor> connection_executors;
  std::atomic<std::size_t> next_connection{0};

  boost::asio::any_io_executor connection_executor(boost::asio::io_context& fallback) {
    if (connection_executors.empty()) return fallback.get_executor();
    const auto i = next_connection.fetch_add(1, std::memory_order_relaxed);
    return connection_executors[i % connection_executors.size()];
  }
};

class session_base {
 public:
  virtual ~session_base() = default;
  virtual void run() = 0;
  // Draining: the next response says Connection: close; an idle connection is closed once it has
  // been idle for the drain window (a request arriving meanwhile is answered).
  virtual void drain() = 0;
  virtual void force_close() = 0;  // the grace period is over
  // At the connection cap, to make room: closed at once if still waiting on its client (TLS
  // handshake, or idle between requests), else after the request in progress (Connection: close).
  virtual void evict() = 0;

  // Since when (steady_clock ticks) the connection has been waiting on its client: its TLS
  // handshake, or idle between requests; 0 while it reads, handles or writes a request. Set on the
  // connection's thread, read by the listener at the cap (to find the oldest waiting one).
  std::int64_t waiting_since() const { return waiting_since_.load(std::memory_order_relaxed); }

 protected:
  std::atomic<std::int64_t> waiting_since_{0};
};

// Told when a tracked session ends (the listener's connection count and drain).
class session_owner {
 public:
  virtual ~session_owner() = default;
  virtual void release(session_base* s) = 0;
};

// "ip:port", for logs and error messages.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep);

std::shared_ptr<session_base> make_tls_session(std::shared_ptr<server_state> state,
                                               std::shared_ptr<session_owner> owner,
                                               boost::asio::ip::tcp::socket&& socket,
                                               std::shared_ptr<boost::asio::ssl::context> ctx);
std::shared_ptr<session_base> make_plain_session(std::shared_ptr<server_state> state,
                                                 boost::asio::ip::tcp::socket&& socket);

}  // namespace mlnetpol::server
