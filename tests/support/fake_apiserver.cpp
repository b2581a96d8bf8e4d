#include "tests/support/fake_apiserver.hpp"

#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/files.hpp"

namespace mlnetpol::testing {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::filesystem::path fixtures_dir() {
  return std::filesystem::path(MLNETPOL_SOURCE_DIR) / "tests" / "fixtures" / "apiserver";
}

std::string read_fixture_file(const std::string& file_name) {
  return read_required(fixtures_dir() / file_name);
}

namespace {
nlohmann::json load_fixture(const std::string& name) {
  return nlohmann::json::parse(read_fixture_file(name + ".json"));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::pair<std::string, std::string> fixture_request(const std::string& name) {
  const auto f = load_fixture(name);
  return {f["request"]["method"].get<std::string>(), f["request"]["path"].get<std::string>()};
}

canned_response fixture_response(const std::string& name) {
  const auto f = load_fixture(name);
  const auto& res = f["response"];
  canned_response out;
  out.status = res["status"].get<unsigned>();
  for (const auto& [key, value] : res["headers"].items()) {
    const auto k = lower(key);
    if (k == "content-length") continue;
    if (k == "transfer-encoding") {
      out.chunked = true;
      continue;
    }
    out.headers.emplace_back(key, value.get<std::string>());
  }
  const auto& body = res["body"];
  if (body.is_string()) {
    out.body = body.get<std::string>();
  } else if (body.is_array() && res.contains("bodyFormat")) {
    for (const auto& event : body) out.body += event.dump() + "\n";
  } else {
    out.body = body.dump();
  }
  return out;
}

struct fake_apiserver::state {
  explicit state(options o) : opts(std::move(o)) {}
  options opts;
  net::io_context ioc;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  std::thread acceptor_thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::map<std::pair<std::string, std::string>, responder> routes;
  std::vector<received_request> received;
  std::vector<std::thread> threads;
  std::vector<int> fds;
  int connection_count = 0;
};

fake_apiserver::fake_apiserver() : fake_apiserver(options{}) {}

fake_apiserver::fake_apiserver(options o) : state_(std::make_unique<state>(std::move(o))) {
  auto& s = *state_;
  s.tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3);
  s.tls.use_certificate_chain(net::buffer(s.opts.server.cert_pem));
  s.tls.use_private_key(net::buffer(s.opts.server.key_pem), ssl::context::pem);
  if (!s.opts.client_ca_pem.empty()) {
    // Ask for a client certificate; a client without one is still served (as a bearer client).
    s.tls.add_certificate_authority(net::buffer(s.opts.client_ca_pem));
    s.tls.set_verify_mode(ssl::verify_peer);
  }
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(net::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint);
  s.acceptor.listen();
  port_ = s.acceptor.local_endpoint().port();
  s.acceptor_thread = std::thread([this] { accept_loop(); });
}

fake_apiserver::~fake_apiserver() {
  stop();
}

void fake_apiserver::stop() {
  auto& s = *state_;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping && s.threads.empty() && !s.acceptor_thread.joinable()) return;
    s.stopping = true;
    ::shutdown(s.acceptor.native_handle(), SHUT_RDWR);
    for (int fd : s.fds) ::shutdown(fd, SHUT_RDWR);
  }
  s.cv.notify_all();
  if (s.acceptor_thread.joinable()) s.acceptor_thread.join();
  {
    std::lock_guard lock(s.mu);
    threads.swap(s.threads);
  }
  for (auto& t : threads) t.join();
}

void fake_apiserver::on(const std::string& method, const std::string& target,
                        canned_response response) {
  on(method, target, [response](const received_request&) { return response; });
}

void fake_apiserver::on(const std::string& method, const std::string& target, responder r) {
  std::lock_guard lock(state_->mu);
  state_->routes[{method, target}] = std::move(r);
}

std::string fake_apiserver::serve_fixture(const std::string& name) {
  auto [method, target] = fixture_request(name);
  on(method, target, fixture_response(name));
  return target;
}

std::vector<received_request> fake_apiserver::requests() const {
  std::lock_guard lock(state_->mu);
  return state_->received;
}

int fake_apiserver::connections() const {
  std::lock_guard lock(state_->mu);
  return state_->connection_count;
}

void fake_apiserver::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, d, [&] { return state_->stopping; });
}

void fake_apiserver::accept_loop() {
  auto& s = *state_;
  for (;;) {
    auto socket = std::make_unique<tcp::socket>(s.ioc);
    beast::error_code ec;
    s.acceptor.accept(*socket, ec);
    std::lock_guard lock(s.mu);
    if (ec || s.stopping) return;
    const int id = ++s.connection_count;
    const int fd = socket->native_handle();
    s.fds.push_back(fd);
    s.threads.emplace_back([this, id, fd, sock = socket.release()] { serve(id, fd, sock); });
  }
}

canned_response fake_apiserver::answer(const received_request& request) {
  responder r;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->routes.find({request.method, request.target});
    if (it == state_->routes.end()) it = state_->routes.find({request.method, request.path});
    if (it != state_->routes.end()) r = it->second;
  }
  if (r) return r(request);
  canned_response none;
  none.status = 404;
  none.headers = {{"Content-Type", "application/json"}};
  none.body = nlohmann::json{
      {"kind", "Status"},
      {"apiVersion", "v1"},
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", "fake apiserver: no route for " + request.method + " " + request.target},
      {"reason", "NotFound"},
      {"code",
       404}}.dump();
  return none;
}

void fake_apiserver::serve(int id, int fd, void* raw_socket) {
  auto& s = *state_;
  std::unique_ptr<tcp::socket> socket(static_cast<tcp::socket*>(raw_socket));
  // Forget the descriptor before the socket closes it: stop() must never shut down a reused one.
  struct forget_fd {
    state& s;
    int fd;
    ~forget_fd() {
      std::lock_guard lock(s.mu);
      std::erase(s.fds, fd);
    }
  } forget{s, fd};
  ssl::stream<tcp::socket&> stream(*socket, s.tls);
  beast::error_code ec;
  stream.handshake(ssl::stream_base::server, ec);
  if (ec) return;
  std::string client_cn;
  if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    client_cn = cn;
    X509_free(peer);
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    http::read(stream, buffer, parser, ec);
    if (ec) return;
    auto& req = parser.get();
    received_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    const auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    for (const auto& field : req)
      r.headers[lower(std::string(field.name_string()))] = field.value();
    r.body = req.body();
    r.connection = id;
    r.client_cn = client_cn;
    {
      std::lock_guard lock(s.mu);
      s.received.push_back(r);
    }
    canned_response res = answer(r);
    if (res.hang) {
      sleep_for(std::chrono::hours(1));
      return;
    }
    if (res.delay.count() > 0) sleep_for(res.delay);
    {
      std::lock_guard lock(s.mu);
      if (s.stopping) return;
    }
    std::string head =
        "HTTP/1.1 " + std::to_string(res.status) + " " +
        (res.reason.empty()
             ? std::string(http::obsolete_reason(static_cast<http::status>(res.status)))
             : res.reason) +
        "\r\n";
    for (const auto& [k, v] : res.headers) head += k + ": " + v + "\r\n";
    const bool chunked = res.chunked || !res.chunks.empty();
    if (chunked) {
      head += "Transfer-Encoding: chunked\r\n";
    } else {
      head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    }
    if (res.close_after) head += "Connection: close\r\n";
    head += "\r\n";
    if (!chunked) {
      net::write(stream, net::buffer(head + res.body), ec);
      if (ec) return;
    } else {
      net::write(stream, net::buffer(head), ec);
      if (ec) return;
      std::vector<std::string> pieces = res.chunks;
      if (pieces.empty() && !res.body.empty()) pieces.push_back(res.body);
      for (const auto& piece : pieces) {
        if (res.pause.count() > 0) sleep_for(res.pause);
        {
          std::lock_guard lock(s.mu);
          if (s.stopping) return;
        }
        std::ostringstream size;
        size << std::hex << piece.size();
        net::write(stream, net::buffer(size.str() + "\r\n" + piece + "\r\n"), ec);
        if (ec) return;
      }
      net::write(stream, net::buffer(std::string("0\r\n\r\n")), ec);
      if (ec) return;
    }
    if (res.close_after || res.drop_after) {
      beast::error_code ignored;
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
  }
}

}  // namespace mlnetpol::testing
