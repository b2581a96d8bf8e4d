#pragma once
// The HTTP/1.1 request parser the sessions use, public so tests and fuzz targets reach it: Beast's
// basic_parser with our own storage, keeping only the request line, Content-Type and Expect.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

namespace mlnetpol::server {

// The request line and the few headers the server looks at, reused across requests.
struct request_head {
  std::string method;
  std::string target;
  std::string content_type;
  bool has_content_type = false;
  bool expect_continue = false;
  int version = 11;
};

// A request body in storage kept across the requests of a connection, followed by readable padding
// so the JSON parser reads it in place. A read can land straight after the body (free_space), and
// appending what it read there copies nothing. A body that came whole in the session's read buffer,
// with padding after it there, stays where it is (refer): not copied at all.
class request_body {
 public:
  std::string_view view() const { return {external_ ? external_ : storage_.data(), size_}; }
  std::size_t size() const { return size_; }
  // Readable bytes after the body.
  std::size_t padding() const { return external_ ? external_padding_ : storage_.size() - size_; }
  // The body is s, left in the caller's buffer, with padding readable bytes after it; valid until
  // the request is handled.
  void refer(std::string_view s, std::size_t padding);
  // Where up to max more body bytes can be read in place (the padding stays after them).
  char* free_space(std::size_t max);
  void clear() {
    size_ = 0;
    external_ = nullptr;
  }
  // Room for a body of n bytes, so reads and appends up to it do not move the body.
  void reserve(std::size_t n);
  void append(std::string_view s);
  // A huge body once must not pin its storage for the rest of the connection.
  void shrink_if_over(std::size_t bytes);

 private:
  void take_over();  // a referred body into storage_, before it grows

  std::string storage_;  // size() is the capacity in use; written bytes beyond size_ are scratch
  std::size_t size_ = 0;
  const char* external_ = nullptr;  // the referred body, or null
  std::size_t external_padding_ = 0;
};

// The body goes straight into the caller's reusable storage, so a request allocates nothing once
// buffers are warm. Construction clears head and body.
class request_parser final : public boost::beast::http::basic_parser<true> {
 public:
  request_parser(request_head& head, request_body& body);

  // The caller's read buffer the next put() reads from, [begin, end) readable: a body that comes
  // whole from it with the padding after it is referred to there, not copied. Null: copy.
  void read_buffer(const char* begin, const char* end) {
    input_begin_ = begin;
    input_end_ = end;
  }

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;
  void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                       int version, error_code&) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view, string_view value,
                     error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override;
  std::size_t on_body_impl(string_view s, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view s, error_code&) override;
  void on_finish_impl(error_code&) override {}

  request_head& head_;
  request_body& body_;
  std::optional<std::uint64_t> content_length_;
  const char* input_begin_ = nullptr;
  const char* input_end_ = nullptr;
};

// The path of a request target (the API server appends ?timeout=5s, so only the path counts).
std::string_view path_of(std::string_view request_target);

// application/json, with optional parameters (charset=utf-8) and any letter case.
bool is_json_content_type(std::string_view content_type);

}  // namespace mlnetpol::server
