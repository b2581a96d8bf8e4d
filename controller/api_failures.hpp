#pragma once
// How the controller names API failures that no retry fixes, the same in every log line and in
// /status.
#include <string_view>

namespace mlnetpol::controller {

// A 401: the credentials are refused; no RBAC grant can fix it.
inline constexpr std::string_view authentication_failed =
    "authentication failed: the API server does not accept mlnetpol's credentials (token invalid, "
    "expired or revoked, or client certificate not trusted)";

}  // namespace mlnetpol::controller
