// The webhook listener's connection limits on loopback, with raw TCP clients that never start
// their TLS handshake: the per-peer limit, the handshake deadline, and at the cap the connection
// waiting longest on its client closed to make room.
#include "server/listener.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "certs/certs.hpp"
#include "server/tls.hpp"
#include "tests/support/eventually.hpp"

using namespace std::chrono_literals;
using mlnetpol::server::connection_refusal;
using mlnetpol::server::eviction_state;
using mlnetpol::server::listener;
using mlnetpol::server::listener_kind;
using mlnetpol::server::options;
using mlnetpol::server::server_state;
using mlnetpol::testing::eventually;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A webhook listener on 127.0.0.1:0, run by one thread of its own.
struct running_listener {
  net::io_context io;
  std::shared_ptr<server_state> state;
  std::shared_ptr<listener> l;
  std::thread thread;

  explicit running_listener(options o) : state(std::make_shared<server_state>(std::move(o))) {
    mlnetpol::certs::issue_options issue;
    issue.dev = true;
    const auto pair = mlnetpol::certs::issue(issue);
    auto tls = mlnetpol::server::make_tls_context(pair.cert_pem, pair.key_pem);
    REQUIRE(tls.has_value());
    l = std::make_shared<listener>(io, state, listener_kind::webhook,
                                   [ctx = tls->context] { return ctx; });
    l->listen("127.0.0.1", 0, "test listener");
    l->start();
    thread = std::thread([this] { io.run(); });
  }
  ~running_listener() {
    net::post(io, [l = l] { l->close(); });
    io.stop();
    thread.join();
  }
};

options limits(std::size_t max, std::size_t per_peer) {
  options o;
  o.max_connections = max;
  o.max_connections_per_peer = per_peer;
  o.handshake_timeout = 20s;  // the silent clients stay unless closed for room
  return o;
}

// A TCP connection from `source` (any 127.x.y.z is this host) that never sends a byte.
tcp::socket connect_from(net::io_context& io, const char* source, std::uint16_t port) {
  tcp::socket s(io);
  s.open(tcp::v4());
  s.bind(tcp::endpoint(net::ip::make_address(source), 0));
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  return s;
}

// Whether the server closed `s` within `limit` (end of stream or reset).
bool closed_within(tcp::socket& s, std::chrono::milliseconds limit) {
  pollfd p{s.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
  char c = 0;
  return ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

}  // namespace

TEST_CASE("per-peer limit: one address's connections over the limit are closed at once") {
  running_listener r(limits(100, 3));
  net::io_context io;
  std::vector<tcp::socket> first;
  for (int i = 0; i < 3; ++i) first.push_back(connect_from(io, "127.0.0.1", r.l->port()));
  REQUIRE(eventually([&] { return r.l->open_connections() == 3; }));
  auto over = connect_from(io, "127.0.0.1", r.l->port());
  CHECK(closed_within(over, 2s));
  CHECK(r.state->stats.connections_rejected(connection_refusal::max_connections_per_peer) == 1);
  // Another address is not held back by the first one's connections.
  auto other = connect_from(io, "127.0.0.2", r.l->port());
  CHECK(eventually([&] { return r.l->open_connections() == 4; }));
  CHECK_FALSE(closed_within(other, 200ms));
  // Room comes back for the first address when one of its connections closes.
  first.front().close();
  REQUIRE(eventually([&] { return r.l->open_connections() == 3; }));
  auto again = connect_from(io, "127.0.0.1", r.l->port());
  CHECK(eventually([&] { return r.l->open_connections() == 4; }));
  CHECK_FALSE(closed_within(again, 200ms));
  CHECK(r.state->stats.connections_rejected() == 1);
  CHECK(r.state->stats.connections_evicted() == 0);
}

TEST_CASE("handshake deadline: a client that never starts its handshake is closed after it") {
  options o = limits(100, 100);
  o.handshake_timeout = 300ms;
  running_listener r(o);
  net::io_context io;
  auto silent = connect_from(io, "127.0.0.1", r.l->port());
  const auto start = std::chrono::steady_clock::now();
  CHECK(closed_within(silent, 5s));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 250ms);
  CHECK(took < 3s);
  CHECK(eventually([&] { return r.state->stats.tls_handshake_errors() == 1; }));
  CHECK(eventually([&] { return r.l->open_connections() == 0; }));
}

TEST_CASE("at the cap a new connection closes the one waiting longest on its client") {
  running_listener r(limits(3, 100));
  net::io_context io;
  std::vector<tcp::socket> held;
  for (std::size_t i = 0; i < 3; ++i) {
    held.push_back(connect_from(io, "127.0.0.1", r.l->port()));
    REQUIRE(eventually([&] { return r.l->open_connections() == i + 1; }));
    std::this_thread::sleep_for(20ms);  // distinct ages
  }
  auto fourth = connect_from(io, "127.0.0.1", r.l->port());
  CHECK(closed_within(held[0], 2s));  // the oldest
  CHECK_FALSE(closed_within(held[1], 100ms));
  CHECK_FALSE(closed_within(held[2], 100ms));
  CHECK_FALSE(closed_within(fourth, 100ms));  // the newcomer got in
  CHECK(r.state->stats.connections_evicted(eviction_state::tls_handshake) == 1);
  CHECK(r.state->stats.connections_rejected() == 0);
  // An eviction is not a failed handshake.
  CHECK(r.state->stats.tls_handshake_errors() == 0);
  CHECK(eventually([&] { return r.l->open_connections() == 3; }));
  // The next one closes the next oldest, never more than one each.
  auto fifth = connect_from(io, "127.0.0.1", r.l->port());
  CHECK(closed_within(held[1], 2s));
  CHECK_FALSE(closed_within(held[2], 100ms));
  CHECK_FALSE(closed_within(fourth, 100ms));
  CHECK_FALSE(closed_within(fifth, 100ms));
  CHECK(r.state->stats.connections_evicted() == 2);
}
