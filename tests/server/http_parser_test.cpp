#include "server/http_parser.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "admission/review_document.hpp"

using namespace mlnetpol::server;

namespace {

struct parsed {
  request_head head;
  request_body body;
  boost::system::error_code ec;
  bool done = false;
};

parsed parse(std::string_view raw, std::size_t body_limit = 1024) {
  parsed out;
  request_parser p(out.head, out.body);
  p.body_limit(body_limit);
  p.eager(true);
  while (!raw.empty() && !p.is_done()) {
    const std::size_t used = p.put(boost::asio::buffer(raw.data(), raw.size()), out.ec);
    raw.remove_prefix(used);
    if (out.ec || used == 0) break;
  }
  out.done = p.is_done();
  return out;
}

}  // namespace

TEST_CASE("the parser keeps the request line, Content-Type, Expect and the body") {
  const auto r = parse(
      "POST /mutate?timeout=5s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
  REQUIRE_FALSE(r.ec);
  CHECK(r.done);
  CHECK(r.head.method == "POST");
  CHECK(r.head.target == "/mutate?timeout=5s");
  CHECK(r.head.content_type == "application/json");
  CHECK(r.head.has_content_type);
  CHECK(r.head.expect_continue);
  CHECK(r.head.version == 11);
  CHECK(r.body.view() == "{}");
}

TEST_CASE("chunked bodies are joined; responses and oversized bodies are errors") {
  auto r = parse(
      "POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n4\r\na\":1\r\n"
      "1\r\n}\r\n0\r\n\r\n");
  REQUIRE_FALSE(r.ec);
  CHECK(r.body.view() == "{\"a\":1}");
  CHECK(r.body.padding() >= mlnetpol::admission::review_body_padding);
  CHECK_FALSE(r.head.has_content_type);
  r = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  CHECK(r.ec);
  r = parse("POST /v HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 5);
  CHECK(r.ec == boost::beast::http::error::body_limit);
}

TEST_CASE("request_body: reads land in place, appends elsewhere copy, the padding stays") {
  request_body body;
  body.reserve(10);
  CHECK(body.padding() >= mlnetpol::admission::review_body_padding);
  // A read into the free space, appended from there: the bytes are not moved.
  char* at = body.free_space(5);
  std::memcpy(at, "hello", 5);
  body.append({at, 5});
  CHECK(body.view() == "hello");
  CHECK(body.view().data() == at);
  // Bytes from elsewhere are copied after the body, growing the storage past what was reserved.
  const std::string more(100, 'x');
  body.append(more);
  CHECK(body.view() == "hello" + more);
  CHECK(body.padding() >= mlnetpol::admission::review_body_padding);
  // Space for a read past the storage keeps the body's bytes.
  char* far = body.free_space(1000);
  CHECK(body.view() == "hello" + more);
  CHECK(far == body.view().data() + body.size());
  CHECK(body.padding() >= 1000 + mlnetpol::admission::review_body_padding);
  body.clear();
  CHECK(body.view().empty());
  // An empty piece, even without a data pointer (an empty chunk), adds nothing.
  body.append(std::string_view());
  CHECK(body.view().empty());
  body.append("{}");
  CHECK(body.view() == "{}");
  body.shrink_if_over(1);
  CHECK(body.view().empty());
  CHECK(body.padding() == 0);
}

TEST_CASE("a body that comes whole in the read buffer with padding after it stays there") {
  const std::string body = R"({"kind":"AdmissionReview"})";
  const std::string raw = "POST /validate HTTP/1.1\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::size_t pad = mlnetpol::admission::review_body_padding;
  auto put_all = [&](const std::string& input, std::size_t readable) {
    request_head head;
    request_body out;
    request_parser p(head, out);
    p.eager(true);
    p.read_buffer(input.data(), input.data() + readable);
    boost::system::error_code ec;
    CHECK(p.put(boost::asio::buffer(input.data(), raw.size()), ec) == raw.size());
    CHECK_FALSE(ec);
    CHECK(p.is_done());
    CHECK(out.view() == body);
    const bool referred = out.view().data() == input.data() + raw.size() - body.size();
    if (referred) CHECK(out.padding() == readable - raw.size());
    return referred;
  };
  const std::string roomy = raw + std::string(pad, ' ');
  CHECK(put_all(roomy, roomy.size()));
  // Too little readable after it (the parser may read padding past the body): copied.
  CHECK_FALSE(put_all(roomy, roomy.size() - 1));

  // Without a read buffer (the session's direct body reads), and when the body comes in parts.
  const auto copied = parse(raw);
  CHECK(copied.body.view() == body);
  request_head head;
  request_body out;
  request_parser p(head, out);
  p.eager(true);
  p.read_buffer(roomy.data(), roomy.data() + roomy.size());
  boost::system::error_code ec;
  const std::size_t first = p.put(boost::asio::buffer(roomy.data(), raw.size() - 5), ec);
  CHECK_FALSE(ec);
  p.put(boost::asio::buffer(roomy.data() + first, raw.size() - first), ec);
  CHECK(p.is_done());
  CHECK(out.view() == body);
  CHECK(out.view().data() != roomy.data() + raw.size() - body.size());
  CHECK(out.padding() >= pad);
}
