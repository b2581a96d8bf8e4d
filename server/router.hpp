#pragma once
// Path routing (the API server appends ?timeout=5s, so only the path counts) and the transport
// checks that come before the AdmissionReview codec.
#include <string_view>

namespace mlnetpol::server {

enum class route { mutate, validate, healthz, readyz, metrics, status, not_found };

// Which listener asks: the plain-HTTP metrics listener serves no admission routes.
enum class listener_kind { webhook, metrics };

struct route_match {
  route target = route::not_found;
  bool method_allowed = false;
  std::string_view allow;  // the Allow header for a 405
};

std::string_view path_of(std::string_view request_target);
route_match match_route(std::string_view method, std::string_view request_target,
                        listener_kind kind);

// application/json, with optional parameters (charset=utf-8) and any letter case.
bool is_json_content_type(std::string_view content_type);

}  // namespace mlnetpol::server
