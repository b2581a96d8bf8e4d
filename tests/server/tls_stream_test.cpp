#include "server/tls_stream.hpp"

#include <doctest/doctest.h>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>

#include "certs/certs.hpp"
#include "server/tls.hpp"

namespace {

// Asio is compiled into this binary, so its epoll_ctl calls come here (and go on to the kernel):
// how the tests see whether waiting for the client re-armed the socket.
std::atomic<int> epoll_rearms{0};

}  // namespace

extern "C" int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  if (op == EPOLL_CTL_MOD) epoll_rearms.fetch_add(1);
  return static_cast<int>(::syscall(SYS_epoll_ctl, epfd, op, fd, event));
}

namespace {

namespace net = boost::asio;
using mlnetpol::server::tls_stream;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

std::shared_ptr<net::ssl::context> server_context() {
  mlnetpol::certs::issue_options o;
  o.dev = true;
  static const auto pair = mlnetpol::certs::issue(o);
  auto material = mlnetpol::server::make_tls_context(pair.cert_pem, pair.key_pem);
  REQUIRE(material.has_value());
  return material->context;
}

// A tls_stream on the server side of a loopback connection, handshaken with a blocking OpenSSL
// client that the test drives by hand.
struct tls_pair {
  net::io_context io{1};
  std::shared_ptr<net::ssl::context> ctx = server_context();
  std::optional<tls_stream> server;
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL* client = nullptr;
  int client_fd = -1;

  tls_pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    tcp::socket accepted(io);
    client_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const auto endpoint = acceptor.local_endpoint();
    REQUIRE(::connect(client_fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0);
    acceptor.accept(accepted);
    server.emplace(std::move(accepted), *ctx);
    client = SSL_new(client_ctx);
    SSL_set_fd(client, client_fd);
    std::optional<error_code> handshake;
    server->async_handshake([&](error_code ec, std::size_t) { handshake = ec; });
    std::thread connect([this] { SSL_connect(client); });
    run_until([&] { return handshake.has_value(); });
    connect.join();
    REQUIRE(handshake.has_value());
    REQUIRE_FALSE(*handshake);
  }
  ~tls_pair() {
    if (client != nullptr) SSL_free(client);
    SSL_CTX_free(client_ctx);
    if (client_fd >= 0) ::close(client_fd);
  }

  // Runs the server's event loop until `done` or five seconds.
  void run_until(const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io.restart();
      io.run_for(10ms);
    }
  }
  void run_for(std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
  }

  // The bytes of one TLS record carrying `text`, as the client would send them.
  std::string record(const std::string& text) {
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set0_wbio(client, out);  // the SSL takes it; the socket BIO goes with the swap
    REQUIRE(SSL_write(client, text.data(), static_cast<int>(text.size())) ==
            static_cast<int>(text.size()));
    char* data = nullptr;
    const long n = BIO_get_mem_data(out, &data);
    std::string bytes(data, static_cast<std::size_t>(n));
    BIO* socket_bio = BIO_new_socket(client_fd, BIO_NOCLOSE);
    SSL_set0_wbio(client, socket_bio);
    return bytes;
  }
  void send_raw(std::string_view bytes) {
    REQUIRE(::send(client_fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
};

struct read_result {
  std::optional<error_code> ec;
  std::string text;
};

void start_read(tls_pair& p, read_result& r, std::vector<char>& buffer) {
  p.server->async_read_some(net::buffer(buffer), [&r, &buffer](error_code ec, std::size_t n) {
    r.ec = ec;
    r.text.assign(buffer.data(), n);
  });
}

}  // namespace

TEST_CASE("a read that waits for the client re-arms nothing and completes when the bytes come") {
  tls_pair p;
  std::vector<char> buffer(256);
  read_result r;
  const int before = epoll_rearms.load();
  start_read(p, r, buffer);
  p.run_for(50ms);
  CHECK_FALSE(r.ec.has_value());  // nothing sent yet: it waits
  REQUIRE(SSL_write(p.client, "hello", 5) == 5);
  p.run_until([&] { return r.ec.has_value(); });
  REQUIRE(r.ec.has_value());
  CHECK_FALSE(*r.ec);
  CHECK(r.text == "hello");
  // Asio's async_wait would have re-armed the descriptor (one epoll_ctl per wait).
  CHECK(epoll_rearms.load() == before);

  SUBCASE("the next read finds bytes already there and completes without waiting") {
    REQUIRE(SSL_write(p.client, "again", 5) == 5);
    std::this_thread::sleep_for(20ms);
    read_result next;
    start_read(p, next, buffer);
    CHECK_FALSE(next.ec.has_value());  // never inline, even when the bytes are there
    p.run_until([&] { return next.ec.has_value(); });
    REQUIRE(next.ec.has_value());
    CHECK_FALSE(*next.ec);
    CHECK(next.text == "again");
    CHECK(epoll_rearms.load() == before);
  }
}

namespace {

// read(2) calls made by this thread so far (OpenSSL reads the socket with read()).
long reads_so_far() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  long value = 0;
  while (io >> key >> value) {
    if (key == "syscr:") return value;
  }
  FAIL("no syscr in /proc/thread-self/io");
  return 0;
}

}  // namespace

TEST_CASE("keep-alive requests cost one read each: none that only finds the socket empty") {
  tls_pair p;
  std::vector<char> buffer(256);
  const long first_look = reads_so_far();
  const long own = reads_so_far() - first_look;  // reading /proc counts too
  const long before = reads_so_far();
  for (int i = 0; i < 5; ++i) {
    read_result r;
    start_read(p, r, buffer);
    p.run_for(5ms);
    const std::string text = "request " + std::to_string(i);
    REQUIRE(SSL_write(p.client, text.data(), static_cast<int>(text.size())) ==
            static_cast<int>(text.size()));
    p.run_until([&] { return r.ec.has_value(); });
    REQUIRE(r.ec.has_value());
    CHECK_FALSE(*r.ec);
    CHECK(r.text == text);
  }
  // The last read drained the socket, so the next one waits for its edge instead of trying a
  // read that could only return EAGAIN.
  CHECK(reads_so_far() - before - own == 5);
}

TEST_CASE("bytes that come after a read drained the socket are not missed") {
  tls_pair p;
  std::vector<char> buffer(256);
  read_result first;
  start_read(p, first, buffer);
  REQUIRE(SSL_write(p.client, "one", 3) == 3);
  p.run_until([&] { return first.ec.has_value(); });
  REQUIRE(first.text == "one");
  bool sent = true;
  SUBCASE("the event loop sees their edge before the next read starts") {
    REQUIRE(SSL_write(p.client, "two", 3) == 3);
    p.run_for(30ms);  // the edge comes with no read waiting
  }
  SUBCASE("they come before the event loop looks again") {
    REQUIRE(SSL_write(p.client, "two", 3) == 3);
    std::this_thread::sleep_for(20ms);
  }
  SUBCASE("they come while the next read waits") {
    sent = false;
  }
  read_result second;
  start_read(p, second, buffer);
  p.run_for(5ms);
  if (!sent) REQUIRE(SSL_write(p.client, "two", 3) == 3);
  p.run_until([&] { return second.ec.has_value(); });
  REQUIRE(second.ec.has_value());
  CHECK_FALSE(*second.ec);
  CHECK(second.text == "two");
}

TEST_CASE("a record that arrives in pieces is read once it is whole") {
  tls_pair p;
  const std::string bytes = p.record("split across three sends");
  REQUIRE(bytes.size() > 10);
  std::vector<char> buffer(256);
  read_result r;
  start_read(p, r, buffer);
  p.send_raw(std::string_view(bytes).substr(0, 3));  // not even the record's header
  p.run_for(50ms);
  CHECK_FALSE(r.ec.has_value());
  p.send_raw(std::string_view(bytes).substr(3, 7));
  p.run_for(50ms);
  CHECK_FALSE(r.ec.has_value());
  p.send_raw(std::string_view(bytes).substr(10));
  p.run_until([&] { return r.ec.has_value(); });
  REQUIRE(r.ec.has_value());
  CHECK_FALSE(*r.ec);
  CHECK(r.text == "split across three sends");
}

TEST_CASE("the client's close_notify reads as eof, a bare close as stream_truncated") {
  std::vector<char> buffer(256);
  SUBCASE("close_notify") {
    tls_pair p;
    read_result r;
    start_read(p, r, buffer);
    p.run_for(20ms);
    SSL_shutdown(p.client);
    p.run_until([&] { return r.ec.has_value(); });
    REQUIRE(r.ec.has_value());
    CHECK(*r.ec == net::error::eof);
  }
  SUBCASE("close without close_notify") {
    tls_pair p;
    read_result r;
    start_read(p, r, buffer);
    p.run_for(20ms);
    ::shutdown(p.client_fd, SHUT_WR);  // a FIN (close() would reset: the tickets are unread)
    p.run_until([&] { return r.ec.has_value(); });
    REQUIRE(r.ec.has_value());
    CHECK(*r.ec == net::ssl::error::stream_truncated);
  }
}

TEST_CASE("closing the socket ends a waiting read with operation_aborted") {
  tls_pair p;
  std::vector<char> buffer(256);
  read_result r;
  start_read(p, r, buffer);
  p.run_for(20ms);
  REQUIRE_FALSE(r.ec.has_value());
  error_code ignored;
  p.server->socket().close(ignored);
  CHECK_FALSE(r.ec.has_value());  // reported through the event loop, not from close()
  p.run_until([&] { return r.ec.has_value(); });
  REQUIRE(r.ec.has_value());
  CHECK(*r.ec == net::error::operation_aborted);
}

TEST_CASE("a stream and its event loop destroyed with a read waiting free the read uncalled") {
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  bool called = false;
  {
    tls_pair p;
    std::vector<char> buffer(256);
    p.server->async_read_some(net::buffer(buffer), [t = std::move(token), &called](
                                                       error_code, std::size_t) { called = true; });
    p.run_for(20ms);
    p.server.reset();  // the socket closes: the read is aborted and queued, not called
    CHECK_FALSE(watch.expired());
  }  // the io_context goes: the queued read is destroyed
  CHECK(watch.expired());
  CHECK_FALSE(called);
}

TEST_CASE("a write larger than the socket takes waits for room, then completes whole") {
  tls_pair p;
  const std::string big(4u << 20, 'x');
  std::optional<error_code> written;
  std::size_t n = 0;
  p.server->async_write(net::buffer(big), [&](error_code ec, std::size_t count) {
    written = ec;
    n = count;
  });
  p.run_for(50ms);
  CHECK_FALSE(written.has_value());  // the client reads nothing yet: the send buffer is full
  std::size_t received = 0;
  std::thread reader([&] {
    std::vector<char> chunk(64 * 1024);
    while (received < big.size()) {
      const int got = SSL_read(p.client, chunk.data(), static_cast<int>(chunk.size()));
      if (got <= 0) break;
      received += static_cast<std::size_t>(got);
    }
  });
  p.run_until([&] { return written.has_value(); });
  reader.join();
  REQUIRE(written.has_value());
  CHECK_FALSE(*written);
  CHECK(n == big.size());
  CHECK(received == big.size());
}
