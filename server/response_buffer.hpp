#pragma once
// A connection's write buffer: each response is laid out once in it, status line, headers and
// body contiguous, and sent with one write. A webhook writes its body straight into it (after room
// kept for the headers, which then go just before the body); any other body is copied in after the
// headers. Kept across the requests of a connection, so once grown it allocates nothing.
#include <cstddef>
#include <string>
#include <string_view>

#include "admission/review.hpp"
#include "server/mux.hpp"

namespace mlnetpol::server {

class response_buffer {
 public:
  // Room kept before a body written in place for the status line and headers (~100 bytes).
  static constexpr std::size_t head_room = 256;

  // Where a handler may write its body in place (see http_response::buffer).
  admission::answer_buffer body_room() { return {&storage_, head_room, head_room}; }

  // Lays out the response (its body in place when response.in_place, else response.body) and
  // returns the bytes to send, valid until the next call or shrink. keep_alive false adds
  // "Connection: close"; an HTTP/1.0 request kept alive gets "Connection: keep-alive".
  std::string_view compose(const http_response& response, bool keep_alive, int http_version);

  // A response of more than bytes once must not pin its storage for the rest of the connection.
  void shrink_if_over(std::size_t bytes);

 private:
  std::string storage_;  // size() is the room in use (see admission::answer_buffer)
};

}  // namespace mlnetpol::server
