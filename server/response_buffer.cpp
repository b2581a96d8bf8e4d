#include "server/response_buffer.hpp"

#include <charconv>
#include <cstring>

#include <boost/beast/http/status.hpp>

namespace mlnetpol::server {
namespace {

namespace http = boost::beast::http;

struct head_fields {
  unsigned status;
  std::string_view reason;
  std::string_view content_type;
  std::size_t content_length;
  std::string_view allow;
  std::string_view connection;  // "close", "keep-alive" or "" (no header)
};

std::size_t digits(std::size_t n) {
  std::size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

std::size_t head_size(const head_fields& h) {
  std::size_t n = 9 + digits(h.status) + 1 + h.reason.size() + 16 + h.content_type.size() + 18 +
                  digits(h.content_length) + 4;
  if (!h.allow.empty()) n += 9 + h.allow.size();
  if (!h.connection.empty()) n += 14 + h.connection.size();
  return n;
}

// Writes exactly head_size(h) bytes at p.
void write_head(char* p, const head_fields& h) {
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put("HTTP/1.1 ");
  p = std::to_chars(p, p + 20, h.status).ptr;
  *p++ = ' ';
  put(h.reason);
  put("\r\nContent-Type: ");
  put(h.content_type);
  put("\r\nContent-Length: ");
  p = std::to_chars(p, p + 20, h.content_length).ptr;
  if (!h.allow.empty()) {
    put("\r\nAllow: ");
    put(h.allow);
  }
  if (!h.connection.empty()) {
    put("\r\nConnection: ");
    put(h.connection);
  }
  put("\r\n\r\n");
}

}  // namespace

std::string_view response_buffer::compose(const http_response& response, bool keep_alive,
                                          int http_version) {
  const auto reason = http::obsolete_reason(http::int_to_status(response.status));
  const bool in_place = response.in_place && response.buffer.storage == &storage_;
  head_fields h{response.status,
                std::string_view(reason.data(), reason.size()),
                response.content_type,
                in_place ? response.buffer.end - response.buffer.begin : response.body.size(),
                response.allow,
                !keep_alive          ? "close"
                : http_version == 10 ? "keep-alive"
                                     : ""};
  const std::size_t head = head_size(h);
  std::size_t start = 0;
  if (in_place && head <= response.buffer.begin) {
    start = response.buffer.begin - head;  // the body stays where the handler wrote it
  } else {
    if (storage_.size() < head + h.content_length) storage_.resize(head + h.content_length);
    if (in_place) {
      std::memmove(storage_.data() + head, storage_.data() + response.buffer.begin,
                   h.content_length);
    } else {
      std::memcpy(storage_.data() + head, response.body.data(), h.content_length);
    }
  }
  write_head(storage_.data() + start, h);
  return {storage_.data() + start, head + h.content_length};
}

void response_buffer::shrink_if_over(std::size_t bytes) {
  if (storage_.capacity() > bytes) std::string().swap(storage_);
}

}  // namespace mlnetpol::server
