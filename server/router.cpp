#include "server/router.hpp"

#include <cctype>

namespace mlnetpol::server {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view path_of(std::string_view request_target) {
  const auto end = request_target.find_first_of("?#");
  return end == std::string_view::npos ? request_target : request_target.substr(0, end);
}

route_match match_route(std::string_view method, std::string_view request_target,
                        listener_kind kind) {
  const std::string_view path = path_of(request_target);
  route_match m;
  const bool is_post = method == "POST";
  const bool is_get = method == "GET";
  if (kind == listener_kind::webhook && (path == "/mutate" || path == "/validate")) {
    m.target = path == "/mutate" ? route::mutate : route::validate;
    m.method_allowed = is_post;
    m.allow = "POST";
    return m;
  }
  if (path == "/healthz")
    m.target = route::healthz;
  else if (path == "/readyz")
    m.target = route::readyz;
  else if (path == "/metrics")
    m.target = route::metrics;
  else if (path == "/status")
    m.target = route::status;
  else
    return m;
  m.method_allowed = is_get;
  m.allow = "GET";
  return m;
}

bool is_json_content_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  return iequals(trim(content_type.substr(0, semicolon)), "application/json");
}

}  // namespace mlnetpol::server
