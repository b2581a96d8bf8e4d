#include "server/http_parser.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "admission/review_document.hpp"

namespace mlnetpol::server {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

request_parser::request_parser(request_head& head, request_body& body) : head_(head), body_(body) {
  head_.method.clear();
  head_.target.clear();
  head_.content_type.clear();
  head_.has_content_type = false;
  head_.expect_continue = false;
  body_.clear();
}

void request_parser::on_request_impl(http::verb, string_view method, string_view target,
                                     int version, error_code&) {
  head_.method.assign(method.data(), method.size());
  head_.target.assign(target.data(), target.size());
  head_.version = version;
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = http::error::bad_version;
}

void request_parser::on_field_impl(http::field name, string_view, string_view value, error_code&) {
  if (name == http::field::content_type) {
    head_.content_type.assign(value.data(), value.size());
    head_.has_content_type = true;
  } else if (name == http::field::expect) {
    head_.expect_continue = beast::iequals(value, "100-continue");
  }
}

void request_body::refer(std::string_view s, std::size_t padding) {
  external_ = s.data();
  size_ = s.size();
  external_padding_ = padding;
}

void request_body::take_over() {
  if (!external_) return;
  const char* from = external_;
  external_ = nullptr;
  const std::size_t n = size_;
  size_ = 0;
  reserve(n);
  std::memcpy(storage_.data(), from, n);
  size_ = n;
}

char* request_body::free_space(std::size_t max) {
  take_over();
  reserve(size_ + max);
  return storage_.data() + size_;
}

void request_body::reserve(std::size_t n) {
  // Grows only: bytes past the body are never read as body, so they need no clearing each time.
  const std::size_t needed = n + admission::review_body_padding;
  if (storage_.size() < needed) storage_.resize(std::max(needed, storage_.size() * 2));
}

void request_body::append(std::string_view s) {
  if (s.empty()) return;  // a parser's empty chunk may have no data pointer, which memcpy refuses
  take_over();
  if (s.data() != storage_.data() + size_) {
    reserve(size_ + s.size());
    std::memcpy(storage_.data() + size_, s.data(), s.size());
  }
  size_ += s.size();
}

void request_body::shrink_if_over(std::size_t bytes) {
  if (storage_.size() > bytes) std::string().swap(storage_);
  size_ = 0;
  external_ = nullptr;
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
  content_length_ = length ? std::optional<std::uint64_t>(*length) : std::nullopt;
  // <= body_limit, checked before. A body that comes whole in the read buffer needs no room here.
  if (length && input_end_ != nullptr &&
      static_cast<std::size_t>(input_end_ - input_begin_) >=
          *length + admission::review_body_padding) {
    return;
  }
  if (length) body_.reserve(static_cast<std::size_t>(*length));
}

std::size_t request_parser::on_body_impl(string_view s, error_code&) {
  const char* end = s.data() + s.size();
  if (body_.size() == 0 && content_length_ && s.size() == *content_length_ &&
      input_begin_ != nullptr && s.data() >= input_begin_ && end <= input_end_ &&
      static_cast<std::size_t>(input_end_ - end) >= admission::review_body_padding) {
    body_.refer({s.data(), s.size()}, static_cast<std::size_t>(input_end_ - end));
    return s.size();
  }
  body_.append({s.data(), s.size()});
  return s.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view s, error_code&) {
  body_.append({s.data(), s.size()});
  return s.size();
}

std::string_view path_of(std::string_view request_target) {
  const auto end = request_target.find_first_of("?#");
  return end == std::string_view::npos ? request_target : request_target.substr(0, end);
}

bool is_json_content_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  return beast::iequals(trim(content_type.substr(0, semicolon)), "application/json");
}

}  // namespace mlnetpol::server
