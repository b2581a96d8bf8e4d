#include "server/response_buffer.hpp"

#include <string>

#include <doctest/doctest.h>

using mlnetpol::server::http_response;
using mlnetpol::server::response_buffer;

namespace {

// A body written in place, as the webhook route writes it.
void write_in_place(http_response& r, response_buffer& out, std::string_view body) {
  r.buffer = out.body_room();
  if (r.buffer.storage->size() < r.buffer.begin + body.size())
    r.buffer.storage->resize(r.buffer.begin + body.size());
  body.copy(r.buffer.storage->data() + r.buffer.begin, body.size());
  r.buffer.end = r.buffer.begin + body.size();
  r.in_place = true;
}

}  // namespace

TEST_CASE("a body in place gets its headers just before it, not copied") {
  response_buffer out;
  http_response r;
  r.status = 200;
  r.content_type = "application/json";
  write_in_place(r, out, R"({"a":1})");
  const char* body_at = r.buffer.storage->data() + r.buffer.begin;
  const auto sent = out.compose(r, true, 11);
  CHECK(sent ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
        R"({"a":1})");
  CHECK(sent.data() + sent.size() - 7 == body_at);
  // HTTP/1.0 kept alive says so; a closing connection says so.
  CHECK(out.compose(r, true, 10) ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
        "Connection: keep-alive\r\n\r\n{\"a\":1}");
  r.status = 500;
  CHECK(out.compose(r, false, 11) ==
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
        "Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}");
}

TEST_CASE("any other body is copied in after the headers; Allow on a 405") {
  response_buffer out;
  http_response r;
  r.status = 405;
  r.body = "method GET not allowed on /mutate; allowed: POST";
  r.allow = "POST";
  CHECK(
      out.compose(r, true, 11) ==
      "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 48\r\nAllow: POST\r\n\r\nmethod GET not allowed on /mutate; allowed: POST");
  r = http_response{};
  r.body = "";
  CHECK(out.compose(r, true, 11) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("headers longer than the room before an in-place body still come out whole") {
  response_buffer out;
  http_response r;
  const std::string allow(400, 'X');
  r.allow = allow;
  write_in_place(r, out, "body");
  const auto sent = out.compose(r, true, 11);
  CHECK(sent ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n"
        "Allow: " +
            allow + "\r\n\r\nbody");
}

TEST_CASE("a large response does not pin its storage") {
  response_buffer out;
  http_response r;
  r.body = std::string(2u << 20, 'x');
  CHECK(out.compose(r, true, 11).size() > (2u << 20));
  out.shrink_if_over(1u << 20);
  r.body = "ok";
  CHECK(out.compose(r, true, 11).size() < 100);
  CHECK(out.body_room().storage->capacity() < (1u << 20));
}
