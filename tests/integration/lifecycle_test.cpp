// Timeouts, the connection cap, graceful drain and start-up failures.
#include <doctest/doctest.h>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;

TEST_CASE("a slow client is cut by the header timeout") {
  running_server s([](auto& o) {
    o.header_timeout = 300ms;
    o.idle_timeout = 5s;
  });
  tls_client c(s.port());
  c.connect();
  // Slowloris: the request line, then nothing more.
  c.write_raw("POST /mutate?timeout=5s HTTP/1.1\r\nHost: x\r\n");
  const auto took = c.time_until_closed(3000ms);
  CHECK(took >= 250ms);
  CHECK(took < 2000ms);
  tls_client next(s.port());
  next.connect();
  CHECK(next.request("POST", "/mutate", namespace_review()).status == 200);
}

TEST_CASE("a body that stops arriving is cut by the body timeout") {
  running_server s([](auto& o) { o.body_timeout = 300ms; });
  tls_client c(s.port());
  c.connect();
  c.write_raw(
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000\r\n\r\n{\"apiVersion\":");
  const auto took = c.time_until_closed(3000ms);
  CHECK(took >= 250ms);
  CHECK(took < 2000ms);
  CHECK(s.mutate.calls == 0);
}

TEST_CASE("idle keep-alive connections and silent TCP connections are closed") {
  running_server s([](auto& o) {
    o.idle_timeout = 300ms;
    o.handshake_timeout = 300ms;
  });
  tls_client c(s.port());
  c.connect();
  CHECK(c.request("POST", "/mutate", namespace_review()).status == 200);
  const auto idle = c.time_until_closed(3000ms);
  CHECK(idle >= 250ms);
  CHECK(idle < 2000ms);

  net::io_context io;
  tcp::socket silent(io);
  silent.connect(loopback(s.port()));
  const auto start = std::chrono::steady_clock::now();
  char buf[16];
  boost::system::error_code ec;
  silent.read_some(net::buffer(buf), ec);  // blocks until the server gives up on the handshake
  CHECK(ec);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(eventually([&] { return s.srv->stats().tls_handshake_errors() == 1; }));
}

TEST_CASE("connection cap: with every connection busy, extra ones are closed at once") {
  running_server s([](auto& o) { o.max_connections = 2; });
  tls_client a(s.port()), b(s.port());
  a.connect();
  b.connect();
  // Both in a request (half a header sent): nothing waits on its client, nothing can make room.
  a.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  b.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  std::this_thread::sleep_for(300ms);  // the server has read them
  {
    tls_client extra(s.port());
    CHECK_THROWS_AS(extra.connect(), boost::system::system_error);
  }
  CHECK(s.srv->stats().connections_rejected(
            mlnetpol::server::connection_refusal::max_connections) >= 1);
  CHECK(s.srv->stats().connections_evicted() == 0);
  a.write_raw("\r\n");
  CHECK(a.read_response().status == 200);
  a.close();
  CHECK(eventually([&] {
    try {
      tls_client again(s.port());
      again.connect();
      return again.request("POST", "/validate", namespace_review()).status == 200;
    } catch (const boost::system::system_error&) {
      return false;
    }
  }));
  b.write_raw("\r\n");
  CHECK(b.read_response().status == 200);  // the busy one was never closed for room
}

TEST_CASE("connection cap: a new connection closes the longest idle one, not a busy one") {
  running_server s([](auto& o) { o.max_connections = 2; });
  tls_client a(s.port()), b(s.port());
  a.connect();
  CHECK(a.request("GET", "/healthz", "", "").status == 200);  // idle from now on: the oldest
  std::this_thread::sleep_for(20ms);
  b.connect();
  CHECK(b.request("GET", "/healthz", "", "").status == 200);
  tls_client extra(s.port());
  extra.connect();
  CHECK(extra.request("POST", "/validate", namespace_review()).status == 200);
  CHECK(a.time_until_closed(2000ms) < 2000ms);
  CHECK(b.request("GET", "/healthz", "", "").status == 200);
  CHECK(s.srv->stats().connections_evicted(mlnetpol::server::eviction_state::idle) == 1);
  CHECK(s.srv->stats().connections_rejected() == 0);
}

TEST_CASE("drain: readiness turns false, new connections are refused, in-flight requests finish") {
  running_server s([](auto& o) { o.drain_idle_timeout = 300ms; });
  s.mutate.delay_ms = 800;
  tls_client idle(s.port());
  idle.connect();
  CHECK(idle.request("GET", "/healthz", "", "").status == 200);

  tls_client busy(s.port());
  busy.connect();
  busy.write_raw(
      "POST /mutate?timeout=5s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(namespace_review().size()) + "\r\n\r\n" + namespace_review());
  REQUIRE(eventually([&] { return s.mutate.entered.load(); }));

  const auto drain_start = std::chrono::steady_clock::now();
  s.srv->begin_shutdown();
  s.srv->begin_shutdown();  // idempotent
  CHECK_FALSE(s.srv->ready());
  CHECK(eventually([&] { return refuses_connections(s.port()); }));
  // The idle keep-alive connection is closed after the drain window, not left to the grace period.
  // Counted from the drain's start: the wait for the refused connections above is not bounded.
  idle.time_until_closed(3000ms);
  const auto idle_for = std::chrono::steady_clock::now() - drain_start;
  CHECK(idle_for >= 250ms);
  CHECK(idle_for < 1500ms);

  const auto r = busy.read_response();
  CHECK(r.status == 200);
  CHECK_FALSE(r.keep_alive);  // Connection: close while draining
  CHECK(s.wait_stopped(3000ms));
}

TEST_CASE("drain: the grace period bounds a request that does not finish") {
  running_server s([](auto& o) { o.shutdown_grace = 300ms; });
  tls_client c(s.port());
  c.connect();
  // Half a request: the session is busy reading it when the drain starts.
  c.write_raw(
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{");
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  s.srv->begin_shutdown();
  CHECK(s.wait_stopped(3000ms));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 250ms);
  CHECK(took < 2s);
}

TEST_CASE("start-up failures are exceptions with a readable reason") {
  quiet_logs();
  temp_dir dir;
  net::io_context io;
  auto opts = quick_options(dir.path);
  SUBCASE("missing certificate") {
    mlnetpol::app::serve_app srv(io, opts, {});
    try {
      srv.start();
      FAIL("start() succeeded without a certificate");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("tls.crt") != std::string::npos);
    }
  }
  SUBCASE("key does not match the certificate") {
    auto pair = shared_pair();
    pair.key_pem = fresh_pair().key_pem;
    mlnetpol::certs::write_files(pair, dir.path, true);
    mlnetpol::app::serve_app srv(io, opts, {});
    try {
      srv.start();
      FAIL("start() succeeded with a mismatched key");
    } catch (const std::runtime_error& e) {
      CAPTURE(std::string(e.what()));
      CHECK(std::string(e.what()).find("key values mismatch") != std::string::npos);
    }
  }
  SUBCASE("port in use") {
    mlnetpol::certs::write_files(shared_pair(), dir.path, true);
    tcp::acceptor taken(io, loopback(0));
    opts.port = taken.local_endpoint().port();
    mlnetpol::app::serve_app srv(io, opts, {});
    try {
      srv.start();
      FAIL("start() succeeded on a port in use");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("bind") != std::string::npos);
    }
  }
  SUBCASE("bad configuration file") {
    mlnetpol::certs::write_files(shared_pair(), dir.path, true);
    write_text(dir.path / "config.yaml", "enabled: [not, a, bool]\n");
    opts.config_file = (dir.path / "config.yaml").string();
    mlnetpol::app::serve_app srv(io, opts, {});
    try {
      srv.start();
      FAIL("start() succeeded with a bad configuration");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("config.yaml") != std::string::npos);
      CHECK(std::string(e.what()).find("enabled") != std::string::npos);
    }
  }
}
