#include "server/listener.hpp"

#include <unistd.h>

#include <stdexcept>
#include <vector>

#include <boost/asio/post.hpp>

#include "common/obs/logging.hpp"

namespace mlnetpol::server {
namespace {

// One key per client address: an IPv4 client seen through an IPv6 socket counts as itself.
std::string peer_key(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

}  // namespace

namespace logging = obs::logging;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using spdlog::level::level_enum;

listener::listener(net::io_context& io, std::shared_ptr<server_state> state, listener_kind kind,
                   tls_source tls)
    : io_(io),
      state_(std::move(state)),
      kind_(kind),
      tls_(std::move(tls)),
      acceptor_(io),
      grace_timer_(io) {}

void listener::listen(const std::string& host, std::uint16_t port, std::string_view what) {
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
  acceptor_.open(endpoint.protocol(), ec);
  check("open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  check("set SO_REUSEADDR on");
  acceptor_.bind(endpoint, ec);
  check("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  check("listen on");
  port_ = acceptor_.local_endpoint().port();
}

void listener::start() {
  accept();
}

void listener::close() {
  error_code ignored;
  acceptor_.close(ignored);
  grace_timer_.cancel();
}

void listener::accept() {
  // Accepted on the listener's own io_context: a pending accept then holds nothing of the I/O
  // threads' io_contexts, which the server destroys first.
  acceptor_.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    // Each connection lives on one I/O thread's own io_context: its handlers never run
    // concurrently, so it needs no strand.
    if (!ec) ec = self->move_to_connection_thread(socket);
    if (ec) {
      // Out of descriptors and the like: say so and try again shortly instead of spinning.
      logging::event(level_enum::err, "accept failed", {{"error", ec.message()}});
      auto timer = std::make_shared<net::steady_timer>(self->io_, std::chrono::milliseconds(100));
      timer->async_wait([self, timer](error_code) { self->accept(); });
      return;
    }
    std::shared_ptr<boost::asio::ssl::context> tls;
    if (self->kind_ == listener_kind::webhook) tls = self->tls_();
    if (self->kind_ == listener_kind::metrics) {
      make_plain_session(self->state_, std::move(socket))->run();
    } else if (!tls) {
      // No pair yet (self-managed certificates, waiting for the Secret): nothing to handshake with.
      error_code ignored;
      socket.close(ignored);
    } else {
      error_code ec_peer;
      std::string peer = peer_key(socket.remote_endpoint(ec_peer).address());
      std::shared_ptr<session_base> victim;
      switch (self->admit(peer, victim)) {
        case admission::peer_limit:
          self->refuse(socket, connection_refusal::max_connections_per_peer);
          break;
        case admission::full:
          self->refuse(socket, connection_refusal::max_connections);
          break;
        case admission::admitted: {
          if (victim) victim->evict();
          // Answers are single writes; Nagle would hold one back waiting for the client's ACK.
          error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          auto s = make_tls_session(self->state_, self, std::move(socket), std::move(tls));
          {
            std::lock_guard lock(self->sessions_mutex_);
            self->sessions_.emplace(s.get(), tracked{s, std::move(peer)});
          }
          s->run();
        }
      }
    }
    self->accept();
  });
}

error_code listener::move_to_connection_thread(tcp::socket& socket) {
  const net::any_io_executor executor = state_->connection_executor(io_);
  if (executor == socket.get_executor()) return {};
  error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return ec;
  const auto fd = socket.release(ec);
  if (ec) return ec;
  tcp::socket moved(executor);
  moved.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return ec;
  }
  socket = std::move(moved);
  return {};
}

listener::admission listener::admit(const std::string& peer,
                                    std::shared_ptr<session_base>& victim) {
  std::lock_guard lock(sessions_mutex_);
  auto peer_count = per_peer_.find(peer);
  if (peer_count != per_peer_.end() &&
      peer_count->second >= state_->opts.max_connections_per_peer) {
    return admission::peer_limit;
  }
  // Connections already asked to make room are as good as gone: each admission over the cap has
  // its own victim, so the count exceeds the cap only by connections about to close.
  if (open_connections_.load() - evicting_ >= state_->opts.max_connections) {
    // The one waiting longest on its client: a scan, but only at the cap.
    tracked* oldest = nullptr;
    std::int64_t oldest_since = 0;
    for (auto& [raw, t] : sessions_) {
      const std::int64_t since = raw->waiting_since();
      if (since == 0 || t.evicting) continue;
      if (oldest == nullptr || since < oldest_since) {
        oldest = &t;
        oldest_since = since;
      }
    }
    if (oldest == nullptr) return admission::full;
    oldest->evicting = true;
    ++evicting_;
    victim = oldest->session.lock();  // null: it is closing already, release() is on its way
  }
  if (peer_count == per_peer_.end()) peer_count = per_peer_.emplace(peer, 0).first;
  ++peer_count->second;
  open_connections_.fetch_add(1);
  return admission::admitted;
}

void listener::refuse(tcp::socket& socket, connection_refusal why) {
  state_->stats.count_connection_rejected(why);
  error_code ignored;
  socket.close(ignored);
  // One line per second at most: a flood must not turn into a log flood.
  std::lock_guard lock(sessions_mutex_);
  ++rejected_since_log_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_cap_log_ >= std::chrono::seconds(1)) {
    logging::event(
        level_enum::warn,
        why == connection_refusal::max_connections
            ? "connection limit reached, every connection busy; closing new connections"
            : "per-peer connection limit reached; closing that address's new connections",
        {{"max_connections", static_cast<std::uint64_t>(state_->opts.max_connections)},
         {"max_connections_per_peer",
          static_cast<std::uint64_t>(state_->opts.max_connections_per_peer)},
         {"rejected", static_cast<std::uint64_t>(rejected_since_log_)}});
    rejected_since_log_ = 0;
    last_cap_log_ = now;
  }
}

void listener::release(session_base* s) {
  std::size_t before = 0;
  {
    // Counted down with the entry, so admit() never sees one without the other.
    std::lock_guard lock(sessions_mutex_);
    if (auto it = sessions_.find(s); it != sessions_.end()) {
      if (it->second.evicting) --evicting_;
      if (auto p = per_peer_.find(it->second.peer); p != per_peer_.end() && --p->second == 0) {
        per_peer_.erase(p);
      }
      sessions_.erase(it);
    }
    before = open_connections_.fetch_sub(1);
  }
  if (before == 1 && draining_.load() && !finished_.load()) {
    net::post(io_, [self = shared_from_this()] { self->finish("all connections closed"); });
  }
}

std::vector<std::shared_ptr<session_base>> listener::live_sessions() {
  std::vector<std::shared_ptr<session_base>> out;
  std::lock_guard lock(sessions_mutex_);
  for (auto& [raw, t] : sessions_) {
    if (auto s = t.session.lock()) out.push_back(std::move(s));
  }
  return out;
}

void listener::drain(std::chrono::milliseconds grace,
                     std::function<void(std::string_view why)> done) {
  on_drained_ = std::move(done);
  draining_.store(true);
  error_code ignored;
  acceptor_.close(ignored);
  for (auto& s : live_sessions()) s->drain();
  if (open_connections_.load() == 0) return finish("no open connections");
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec) return;
    logging::event(
        level_enum::warn, "shutdown grace period over; closing open connections",
        {{"open_connections", static_cast<std::uint64_t>(self->open_connections_.load())}});
    for (auto& s : self->live_sessions()) s->force_close();
    self->finish("grace period over");
  });
}

void listener::finish(std::string_view why) {
  if (finished_.exchange(true)) return;
  grace_timer_.cancel();
  // Called once, then dropped: the callback holds its owner, which holds this listener.
  auto done = std::move(on_drained_);
  on_drained_ = nullptr;
  if (done) done(why);
}

}  // namespace mlnetpol::server
