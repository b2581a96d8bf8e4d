// Each transport error gets a clear answer, and the server keeps serving (on the same connection
// whenever the request could be read whole).
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;
using json = nlohmann::json;

namespace {

const std::string& good_body() {
  static const std::string body = fixture("pod-create-no-labels.json");
  return body;
}

void expect_good_request(tls_client& c) {
  const auto r = c.request("POST", "/mutate?timeout=5s", good_body());
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["response"]["uid"] == json::parse(good_body())["request"]["uid"]);
}

void expect_good_request_on_new_connection(running_server& s) {
  tls_client c(s.port());
  c.connect();
  expect_good_request(c);
}

}  // namespace

TEST_CASE("codec errors: 400 with an AdmissionReview body, then the next request works") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  struct bad {
    std::string name;
    std::string body;
    std::string uid;  // echoed when known
  };
  const bad cases[] = {
      {"empty body", "", ""},
      {"invalid JSON", "{\"apiVersion\": ", ""},
      {"not an AdmissionReview", R"({"apiVersion":"v1","kind":"Pod","metadata":{}})", ""},
      {"missing request", R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", ""},
      {"missing uid",
       R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}})",
       ""},
      {"deep nesting", std::string(100000, '[') + std::string(100000, ']'), ""},
  };
  for (const auto& b : cases) {
    CAPTURE(b.name);
    const auto r = c.request("POST", "/mutate?timeout=5s", b.body);
    CHECK(r.status == 400);
    CHECK(r.content_type == "application/json");
    const auto review = json::parse(r.body, nullptr, false);
    REQUIRE_FALSE(review.is_discarded());
    CHECK(review["kind"] == "AdmissionReview");
    CHECK(review["response"]["allowed"] == false);
    CHECK(review["response"]["status"]["code"] == 400);
    CHECK_FALSE(review["response"]["status"]["message"].get<std::string>().empty());
    CHECK(r.keep_alive);
    expect_good_request(c);
  }
  CHECK(s.srv->stats().http_requests(400) == std::size(cases));
  CHECK(s.mutate.calls == static_cast<int>(std::size(cases)));
}

TEST_CASE("unknown path: 404, same connection goes on") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  for (const std::string target : {"/", "/mutate/", "/admit?timeout=5s", "/validatex"}) {
    CAPTURE(target);
    const auto r = c.request("POST", target, good_body());
    CHECK(r.status == 404);
    CHECK(r.body.find("404") != std::string::npos);
    expect_good_request(c);
  }
  CHECK(s.mutate.calls == 4);
}

TEST_CASE("wrong method: 405 with Allow") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  auto r = c.request("GET", "/mutate?timeout=5s", "", "");
  CHECK(r.status == 405);
  CHECK(r.allow == "POST");
  expect_good_request(c);
  r = c.request("PUT", "/validate", good_body());
  CHECK(r.status == 405);
  CHECK(r.allow == "POST");
  expect_good_request(c);
  r = c.request("POST", "/healthz", "x", "text/plain");
  CHECK(r.status == 405);
  CHECK(r.allow == "GET");
  expect_good_request(c);
  CHECK(s.validate.calls == 0);
}

TEST_CASE("wrong or missing Content-Type: 415") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  for (const std::string type :
       {"text/plain", "application/x-www-form-urlencoded", "application/json-patch+json", ""}) {
    CAPTURE(type);
    const auto r = c.request("POST", "/mutate?timeout=5s", good_body(), type);
    CHECK(r.status == 415);
    CHECK(r.body.find("application/json") != std::string::npos);
    expect_good_request(c);
  }
  CHECK(s.mutate.calls == 4);
}

TEST_CASE("body over 7 MiB: 413 at once, without waiting for the body") {
  running_server s([](auto& o) { o.body_timeout = 10s; });
  tls_client c(s.port());
  c.connect();
  const std::size_t declared = 7 * 1024 * 1024 + 1;
  const auto start = std::chrono::steady_clock::now();
  c.write_raw(
      "POST /mutate?timeout=5s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(declared) + "\r\n\r\n" + std::string(64 * 1024, ' '));
  const auto r = c.read_response();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == 413);
  CHECK_FALSE(r.keep_alive);
  CHECK(took < 2s);  // the body timeout is 10 s: the server did not wait for the body
  CHECK(s.mutate.calls == 0);
  expect_good_request_on_new_connection(s);

  SUBCASE("chunked bodies are bounded too") {
    tls_client c2(s.port());
    c2.connect();
    const std::size_t chunk = 1024 * 1024;
    std::string head =
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    c2.write_raw(head);
    std::ostringstream size;
    size << std::hex << chunk;
    const std::string piece = size.str() + "\r\n" + std::string(chunk, ' ') + "\r\n";
    response answer;
    try {
      for (int i = 0; i < 8; ++i) c2.write_raw(piece);
    } catch (const boost::system::system_error&) {
      // The server may close while we still write; the answer is what counts.
    }
    answer = c2.read_response();
    CHECK(answer.status == 413);
    expect_good_request_on_new_connection(s);
  }
}

TEST_CASE("a body of exactly the limit is accepted") {
  running_server s([](auto& o) { o.max_body_bytes = 64 * 1024; });
  tls_client c(s.port());
  c.connect();
  std::string body = good_body();
  body.append(64 * 1024 - body.size(), ' ');  // JSON allows trailing whitespace
  CHECK(c.request("POST", "/mutate", body).status == 200);
  body += ' ';
  CHECK(c.request("POST", "/mutate", body).status == 413);
}

TEST_CASE("a large body read in pieces into place, with a pipelined request right behind it") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  // 300 KB of a member no decision reads before the uid, so the uid the answer echoes was read
  // into place after the first pieces (the rest of the body bypasses the read buffer).
  json review = json::parse(good_body());
  const std::string uid = "in-place-4f1c";
  json request = json::object();
  request["filler"] = std::string(300 * 1024, 'f');
  for (auto& [key, value] : review["request"].items()) request[key] = value;
  request["uid"] = uid;
  review["request"] = request;
  const std::string big = review.dump();
  REQUIRE(big.find("filler") < big.find(uid));
  const std::string head =
      "POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(big.size()) + "\r\n\r\n";
  const std::string next =
      "POST /mutate?timeout=5s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(good_body().size()) + "\r\n\r\n" + good_body();
  c.write_raw(head + big.substr(0, 1000));
  std::this_thread::sleep_for(50ms);
  c.write_raw(big.substr(1000, 70000));
  std::this_thread::sleep_for(50ms);
  // The body's last bytes and the whole next request in one write: the next request must not be
  // read into the first one's body.
  c.write_raw(big.substr(71000) + next);
  const auto first = c.read_response();
  CHECK(first.status == 200);
  CHECK(json::parse(first.body)["response"]["uid"] == uid);
  const auto second = c.read_response();
  CHECK(second.status == 200);
  CHECK(json::parse(second.body)["response"]["uid"] == json::parse(good_body())["request"]["uid"]);
  // A smaller body after the large one on the same connection reads only its own bytes.
  expect_good_request(c);
}

TEST_CASE("malformed HTTP: 400 and close, the server goes on") {
  running_server s;
  {
    tls_client c(s.port());
    c.connect();
    c.write_raw("THIS IS NOT HTTP\r\n\r\n");
    const auto r = c.read_response();
    CHECK(r.status == 400);
    CHECK_FALSE(r.keep_alive);
  }
  {
    tls_client c(s.port());
    c.connect();
    c.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') +
                "\r\n\r\n");
    CHECK(c.read_response().status == 431);
  }
  expect_good_request_on_new_connection(s);
}

TEST_CASE("a TLS handshake that fails is counted and does not disturb others") {
  running_server s;
  {
    net::io_context io;
    tcp::socket sock(io);
    sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), s.port()));
    net::write(sock, net::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    char buf[256];
    boost::system::error_code ec;
    sock.read_some(net::buffer(buf), ec);  // the server gives up on the handshake
  }
  CHECK(eventually([&] { return s.srv->stats().tls_handshake_errors() == 1; }));
  {
    tls_client old_tls(s.port(), shared_pair().ca_cert_pem, TLS1_1_VERSION);
    CHECK_THROWS_AS(old_tls.connect(), boost::system::system_error);
  }
  CHECK(eventually([&] { return s.srv->stats().tls_handshake_errors() == 2; }));
  {
    tls_client tls12(s.port(), shared_pair().ca_cert_pem, TLS1_2_VERSION);
    tls12.connect();
    CHECK(SSL_version(tls12.stream().native_handle()) == TLS1_2_VERSION);
    expect_good_request(tls12);
  }
  {
    tls_client tls13(s.port(), shared_pair().ca_cert_pem, TLS1_3_VERSION);
    tls13.connect();
    CHECK(SSL_version(tls13.stream().native_handle()) == TLS1_3_VERSION);
  }
  CHECK(s.srv->stats().render().find("mlnetpol_tls_handshake_errors_total 2") != std::string::npos);
}

TEST_CASE("TLS sessions resume (1.2 session cache, 1.3 tickets)") {
  running_server s;
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    CAPTURE(version);
    tls_client first(s.port(), shared_pair().ca_cert_pem, version);
    first.connect();
    CHECK_FALSE(first.resumed());
    expect_good_request(first);  // TLS 1.3 tickets arrive after the handshake
    SSL_SESSION* session = first.session();
    REQUIRE(session != nullptr);
    first.close();
    tls_client second(s.port(), shared_pair().ca_cert_pem, version);
    second.connect(session);
    CHECK(second.resumed());
    expect_good_request(second);
    SSL_SESSION_free(session);
  }
}
