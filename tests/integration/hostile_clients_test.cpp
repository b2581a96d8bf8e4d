// Clients that try to exhaust or crash the server, on loopback, bounded in time and count: many
// idle connections, slowloris, non-TLS bytes on the TLS port, huge and deeply nested bodies,
// certificate rotation under load, SIGTERM under load.
//
// The connection cap (--max-connections, 4096 by default) counts every open connection, idle or
// not: at the cap a new connection closes the one that has waited longest on its client (its TLS
// handshake, or its next request; mlnetpol_connections_evicted_total), so an idle flood cannot
// keep the API server out; only when every connection is in a request is the new one closed at
// once (mlnetpol_connections_rejected_total). One address holds --max-connections-per-peer at
// most. Idle connections do not hold a slot forever either: a connection that does not finish
// its TLS handshake is closed after the handshake timeout, one that sends no request after the
// idle timeout, one that does not finish its header after the header timeout (whatever it
// trickles). Below the cap, idle connections cost a socket and a timer each and never delay other
// clients' requests.
#include <sys/resource.h>

#include <random>
#include <set>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A small AdmissionReview of its own, so these tests need no fixture files.
std::string review_body(const std::string& object = R"({"metadata":{"name":"p"},"spec":{}})") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{)"
         R"("uid":"0b9d3c1e-5f44-4a2b-9f1e-000000000001","kind":{"group":"","version":"v1",)"
         R"("kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},)"
         R"("namespace":"ml-training","operation":"CREATE","userInfo":{"username":"alice"},)"
         R"("object":)" +
         object + "}}";
}

// Each test may hold a few thousand sockets (both ends live in this process).
void raise_fd_limit(rlim_t want) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= want) return;
  limit.rlim_cur = std::min(want, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

bool good_request(std::uint16_t port, const std::string& ca = shared_pair().ca_cert_pem) {
  tls_client c(port, ca);
  c.connect();
  return c.request("POST", "/validate?timeout=5s", review_body()).status == 200;
}

std::size_t resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

}  // namespace

TEST_CASE("1,000 idle connections do not starve new requests") {
  raise_fd_limit(8192);
  running_server s([](auto& o) {
    o.handshake_timeout = 20s;  // the idle ones stay for the whole test
    o.idle_timeout = 20s;
    o.max_connections_per_peer = 2000;  // all from 127.0.0.1
  });
  net::io_context io;
  std::vector<tcp::socket> silent;  // TCP only: they never start a handshake
  for (int i = 0; i < 500; ++i) {
    silent.emplace_back(io).connect(loopback(s.port()));
  }
  std::vector<std::unique_ptr<tls_client>> idle;  // handshaken, then silent
  for (int i = 0; i < 500; ++i) {
    idle.push_back(std::make_unique<tls_client>(s.port()));
    idle.back()->connect();
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) CHECK(good_request(s.port()));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(s.srv->stats().connections_rejected() == 0);
  // The idle ones are still open and usable.
  CHECK(idle.front()->request("GET", "/healthz", "", "").status == 200);
  CHECK(idle.back()->request("POST", "/validate", review_body()).status == 200);
}

TEST_CASE("an idle flood over the cap: 20 clients in parallel keep being served") {
  // The issue-25 attack, scaled down: more idle connections than the cap (half never start their
  // handshake, half handshaken and silent), then 20 clients at once, as the API server creating
  // 20 pods in parallel, each on a new connection, 5 requests each on it.
  raise_fd_limit(8192);
  running_server s([](auto& o) {
    o.max_connections = 200;
    o.max_connections_per_peer = 1000;  // the flood and the clients all come from 127.0.0.1
    o.handshake_timeout = 20s;          // the flood stays for the whole test
    o.idle_timeout = 20s;
  });
  net::io_context io;
  std::vector<tcp::socket> silent;
  std::vector<std::unique_ptr<tls_client>> idle;
  int idle_refused = 0;
  for (int i = 0; i < 150; ++i) {
    silent.emplace_back(io).connect(loopback(s.port()));
    idle.push_back(std::make_unique<tls_client>(s.port()));
    try {
      idle.back()->connect();
    } catch (const boost::system::system_error&) {
      ++idle_refused;  // closed for room by a later one of the flood before its handshake ended
    }
  }
  MESSAGE("flood: 300 connections, " << idle_refused << " cut in their handshake");
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 20; ++c) {
    clients.emplace_back([&] {
      try {
        tls_client client(s.port());
        client.connect();
        for (int i = 0; i < 5; ++i) {
          if (client.request("POST", "/validate?timeout=10s", review_body()).status == 200) {
            ++ok;
          } else {
            ++failed;
          }
        }
      } catch (const std::exception& e) {
        ++failed;
        MESSAGE("client failed: " << std::string(e.what()));
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(failed == 0);
  CHECK(ok == 100);
  CHECK(s.srv->stats().connections_rejected() == 0);
  // The flood's 100 over the cap, then the clients' connections, made room by closing others.
  CHECK(s.srv->stats().connections_evicted() >= 100);
}

TEST_CASE("one address over --max-connections-per-peer: its new connections are refused") {
  raise_fd_limit(8192);
  running_server s([](auto& o) {
    o.max_connections_per_peer = 50;
    o.handshake_timeout = 20s;
  });
  net::io_context io;
  std::vector<tcp::socket> silent;
  for (int i = 0; i < 50; ++i) silent.emplace_back(io).connect(loopback(s.port()));
  REQUIRE(eventually([&] {
    try {
      return !good_request(s.port());
    } catch (const boost::system::system_error&) {
      return true;  // closed at once: this address holds its limit
    }
  }));
  CHECK(s.srv->stats().connections_rejected(
            mlnetpol::server::connection_refusal::max_connections_per_peer) >= 1);
  CHECK(s.srv->stats().connections_evicted() == 0);
  silent.front().close();
  CHECK(eventually([&] {
    try {
      return good_request(s.port());
    } catch (const boost::system::system_error&) {
      return false;
    }
  }));
}

TEST_CASE("slowloris: a header trickled one byte a second is cut at the header timeout") {
  running_server s([](auto& o) {
    o.header_timeout = 2s;
    o.idle_timeout = 10s;
  });
  tls_client c(s.port());
  c.connect();
  const std::string header =
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: abcdefgh";
  const auto start = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  bool closed = false;
  while (!closed && sent < header.size() && std::chrono::steady_clock::now() - start < 8s) {
    try {
      c.write_raw(header.substr(sent, 1));
      ++sent;
    } catch (const boost::system::system_error&) {
      closed = true;
      break;
    }
    // Waits a second for the close; returns early when the server closes.
    closed = c.time_until_closed(1000ms) < 1000ms;
  }
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(closed);
  CHECK(took >= 1500ms);
  CHECK(took < 4500ms);
  CHECK(sent <= 5);
  CHECK(good_request(s.port()));
}

TEST_CASE("plain HTTP and random bytes on the TLS port are dropped, the server goes on") {
  running_server s([](auto& o) { o.handshake_timeout = 1s; });
  std::mt19937 random(42);
  for (int i = 0; i < 20; ++i) {
    net::io_context io;
    tcp::socket sock(io);
    sock.connect(loopback(s.port()));
    std::string bytes;
    if (i % 2 == 0) {
      bytes = "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    } else {
      bytes.resize(1 + random() % 70000);
      for (auto& b : bytes) b = static_cast<char>(random());
      if (i == 1) bytes[0] = 0x16;  // a TLS handshake record type, then garbage
    }
    boost::system::error_code ec;
    net::write(sock, net::buffer(bytes), ec);  // may fail once the server has given up
    const auto start = std::chrono::steady_clock::now();
    char buf[4096];
    while (!ec) sock.read_some(net::buffer(buf), ec);  // until the server closes
    CHECK(std::chrono::steady_clock::now() - start < 3s);
  }
  CHECK(eventually([&] { return s.srv->stats().tls_handshake_errors() >= 20; }));
  CHECK(s.mutate.calls == 0);
  CHECK(good_request(s.port()));
}

TEST_CASE("a 100 MB body is refused without being buffered") {
  running_server s([](auto& o) { o.body_timeout = 10s; });
  const std::size_t hundred_mb = 100 * 1024 * 1024;
  const std::size_t rss_before = resident_kib();
  SUBCASE("declared with Content-Length") {
    tls_client c(s.port());
    c.connect();
    c.write_raw(
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(hundred_mb) + "\r\n\r\n{\"apiVersion\":");
    const auto r = c.read_response();
    CHECK(r.status == 413);
    CHECK_FALSE(r.keep_alive);
  }
  SUBCASE("chunked, written until the server stops reading") {
    tls_client c(s.port());
    c.connect();
    c.write_raw(
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    const std::size_t chunk = 256 * 1024;
    std::ostringstream size;
    size << std::hex << chunk;
    const std::string piece = size.str() + "\r\n" + std::string(chunk, ' ') + "\r\n";
    std::size_t written = 0;
    const auto start = std::chrono::steady_clock::now();
    try {
      while (written < hundred_mb) {
        c.write_raw(piece);
        written += chunk;
      }
    } catch (const boost::system::system_error&) {
      // The server answered and closed: the rest of the 100 MB is never sent.
    }
    const auto r = c.read_response();
    CHECK(r.status == 413);
    // After answering, the server discards (never buffers) input for one second, so the client
    // can read the answer before the close; on loopback that second may take all 100 MB.
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    MESSAGE("written before the close: " << written / (1024 * 1024) << " MiB");
  }
  CHECK(s.mutate.calls == 0);
  // The server kept at most the 7 MiB limit (plus buffers), never the 100 MB.
  CHECK(resident_kib() < rss_before + 48 * 1024);
  CHECK(good_request(s.port()));
}

TEST_CASE("JSON nested 100,000 deep is refused without a stack overflow") {
  running_server s;
  for (const auto& [open, close] : {std::pair{"[", "]"}, std::pair{"{\"a\":", "}"}}) {
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += open;
    deep += "1";
    for (int i = 0; i < 100000; ++i) deep += close;
    tls_client c(s.port());
    c.connect();
    const auto r = c.request("POST", "/mutate", review_body(R"({"spec":)" + deep + "}"));
    CHECK(r.status == 400);
    CHECK(r.body.find("nesting") != std::string::npos);
    CHECK(c.request("POST", "/mutate", review_body()).status == 200);  // same connection
  }
  CHECK(s.mutate.calls == 2);
}

TEST_CASE("10,000 requests while the certificate files rotate: none fails") {
  const auto first = fresh_pair();
  const auto second = fresh_pair();
  running_server s(
      [](auto& o) {
        o.tls_cert_file = (fs::path(o.tls_cert_file).parent_path() / "secret" / "tls.crt").string();
        o.tls_key_file = (fs::path(o.tls_key_file).parent_path() / "secret" / "tls.key").string();
        o.reload_interval = 20ms;
      },
      [&](const fs::path& dir) {
        publish(dir / "secret", "v0", {{"tls.crt", first.cert_pem}, {"tls.key", first.key_pem}});
      });
  const std::string both_cas = first.ca_cert_pem + second.ca_cert_pem;
  std::atomic<bool> done{false};
  std::atomic<int> rotations{0};
  std::thread rotate([&] {
    for (int v = 1; !done; ++v) {
      const auto& pair = v % 2 ? second : first;
      publish(s.dir.path / "secret", "v" + std::to_string(v),
              {{"tls.crt", pair.cert_pem}, {"tls.key", pair.key_pem}});
      ++rotations;
      std::this_thread::sleep_for(30ms);
    }
  });
  constexpr int clients = 4;
  constexpr int per_client = 2500;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::set<std::string> serials;
  std::mutex serials_mutex;
  std::vector<std::thread> workers;
  for (int w = 0; w < clients; ++w) {
    workers.emplace_back([&] {
      std::unique_ptr<tls_client> c;
      for (int i = 0; i < per_client; ++i) {
        try {
          if (i % 25 == 0) {  // a fresh handshake now and then sees the current pair
            c = std::make_unique<tls_client>(s.port(), both_cas);
            c->connect();
            std::lock_guard lock(serials_mutex);
            serials.insert(c->peer_serial());
          }
          if (c->request("POST", "/validate", review_body()).status == 200) {
            ++ok;
          } else {
            ++failed;
          }
        } catch (const std::exception& e) {
          ++failed;
          c.reset();
          MESSAGE("request failed: " << std::string(e.what()));
          if (i % 25 != 0) i = (i / 25 + 1) * 25 - 1;  // reconnect on the next one
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  done = true;
  rotate.join();
  CHECK(failed == 0);
  CHECK(ok == clients * per_client);
  CHECK(rotations > 2);
  CHECK(serials.size() == 2);  // both pairs were served during the run
}

TEST_CASE("SIGTERM under load: no request in flight fails") {
  background_serve serve("ml_training_namespaces: [ml-training]\n", {"--shutdown-grace", "10s"});
  REQUIRE(serve.wait_ready());
  const std::uint16_t port = serve.port;
  const std::string body = review_body();
  const std::string head =
      "POST /mutate?timeout=5s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";

  // The load: keep-alive clients that keep sending on their connection, with short pauses (so
  // some are idle when the drain starts), until an answer says Connection: close. Like the API
  // server's client, they never resend a request whose connection broke: that counts as cut.
  std::atomic<bool> sigterm_sent{false};
  std::atomic<bool> drain_seen{false};  // the listener refused a connection: draining for sure
  std::atomic<int> answered{0};
  std::atomic<int> not_ok{0};
  std::atomic<int> cut{0};
  std::atomic<int> refused_before_sigterm{0};
  std::atomic<int> kept_alive_in_drain{0};  // answers to requests sent once drain_seen was true
  std::atomic<int> closed_by_drain{0};      // load connections ended by Connection: close
  std::vector<std::thread> load;
  for (int w = 0; w < 4; ++w) {
    load.emplace_back([&, w] {
      std::mt19937 random(w);
      while (!sigterm_sent) {
        tls_client c(port);
        try {
          c.connect();
        } catch (const boost::system::system_error&) {
          // After SIGTERM the listener is closed: a real client dials another replica.
          if (!sigterm_sent) ++refused_before_sigterm;
          break;
        }
        for (;;) {
          const bool in_drain = drain_seen.load();
          response r;
          try {
            r = c.request("POST", "/mutate?timeout=5s", body);
          } catch (const boost::system::system_error&) {
            ++cut;
            break;
          }
          ++answered;
          if (r.status != 200) ++not_ok;
          if (!r.keep_alive) {
            if (r.connection == "close") ++closed_by_drain;
            break;
          }
          if (in_drain) ++kept_alive_in_drain;
          std::this_thread::sleep_for(std::chrono::milliseconds(random() % 20));
        }
      }
    });
  }
  REQUIRE(eventually([&] { return answered > 200; }));

  // In flight for sure: requests the server is reading (header and half the body sent).
  std::vector<std::unique_ptr<tls_client>> in_flight;
  for (int i = 0; i < 8; ++i) {
    in_flight.push_back(std::make_unique<tls_client>(port));
    in_flight.back()->connect();
    in_flight.back()->write_raw(head + body.substr(0, body.size() / 2));
  }
  // Idle on a keep-alive connection when SIGTERM comes, then a request on it.
  tls_client idle(port);
  idle.connect();
  REQUIRE(idle.request("POST", "/mutate?timeout=5s", body).keep_alive);
  std::this_thread::sleep_for(100ms);  // the server has read those halves
  sigterm_sent = true;
  ::kill(::getpid(), SIGTERM);
  const auto sigterm_at = std::chrono::steady_clock::now();
  CHECK(eventually([&] { return refuses_connections(port); }));
  drain_seen = true;
  std::this_thread::sleep_until(sigterm_at + 200ms);
  try {
    const auto r = idle.request("POST", "/mutate?timeout=5s", body);
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["response"]["allowed"] == true);
    CHECK(r.connection == "close");
  } catch (const boost::system::system_error& e) {
    FAIL_CHECK("a request on an idle keep-alive connection 200 ms into the drain was lost: "
               << std::string(e.what()));
  }
  for (auto& c : in_flight) {
    c->write_raw(body.substr(body.size() / 2));
    const auto r = c->read_response();
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["response"]["allowed"] == true);
    CHECK(r.connection == "close");
  }
  REQUIRE(serve.exit_code.wait_for(15s) == std::future_status::ready);
  for (auto& t : load) t.join();
  CHECK(serve.exit_code.get() == 0);
  MESSAGE("load: " << answered.load() << " answered, " << cut.load() << " cut");
  CHECK(cut.load() == 0);
  CHECK(not_ok.load() == 0);
  CHECK(refused_before_sigterm.load() == 0);
  CHECK(kept_alive_in_drain.load() == 0);
  CHECK(closed_by_drain.load() == 4);  // every load connection was told to close, none was dropped
}
