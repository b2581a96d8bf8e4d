#pragma once
// How the controller names API failures that no retry fixes, the same in every log line and in
// /status.
#include <string_view>

#include "k8s/client.hpp"

namespace mlnetpol::controller {

// A 401: the credentials are refused; no RBAC grant can fix it.
inline constexpr std::string_view authentication_failed =
    "authentication failed: the API server does not accept mlnetpol's credentials (token invalid, "
    "expired or revoked, or client certificate not trusted)";

// A failed list or watch of an informer (which retries it with backoff), logged the same way for
// every resource: refused credentials and missing RBAC grants as errors, the rest as retried.
// A missing CRD is the caller's to report (it changes what the caller does).
void log_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing);

}  // namespace mlnetpol::controller
