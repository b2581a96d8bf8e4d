#include "server/http_parser.hpp"

#include <cctype>

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

request_parser::request_parser(request_head& head, std::string& body) : head_(head), body_(body) {
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

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
  // <= body_limit, checked before; the padding lets the JSON parser read the body in place.
  if (length) body_.reserve(static_cast<std::size_t>(*length) + admission::review_body_padding);
}

std::size_t request_parser::on_body_impl(string_view s, error_code&) {
  body_.append(s.data(), s.size());
  return s.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view s, error_code&) {
  body_.append(s.data(), s.size());
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
