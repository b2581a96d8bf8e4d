#pragma once
// How the controller classifies and names API failures, the same for every caller (informers,
// Event writes, PolicyReport writes) in every log line and in /status.
#include <string_view>

#include "k8s/client.hpp"

namespace mlnetpol::controller {

// A 401: the credentials are refused; no RBAC grant can fix it.
inline constexpr std::string_view authentication_failed =
    "authentication failed: the API server does not accept mlnetpol's credentials (token invalid, "
    "expired or revoked, or client certificate not trusted)";

// What a failed call means to the controller, whatever the call.
enum class failure_class {
  unauthenticated,  // 401: no retry and no RBAC grant fixes it
  forbidden,        // 403 (not a terminating namespace): RBAC must grant the verb
  gone,             // 404, or 403 "being terminated": the object or its namespace is (going) away
  crd_missing,      // the resource's group is not served (no Cilium, no PolicyReport CRD)
  retry,            // anything else (throttled, 5xx, transport, conflict, expired...): retried
};
failure_class classify_failure(const k8s::api_error& e);

// A failure no retry fixes (unauthenticated, forbidden) logged as an error naming verb and
// resource, one line the same for every caller; true when e was one (else nothing is logged and
// the failure is the caller's to log).
bool log_unfixable(const k8s::api_error& e, std::string_view verb, std::string_view resource);

// A failed list or watch of an informer (which retries it with backoff), logged the same way for
// every resource: refused credentials and missing RBAC grants as errors, the rest as retried.
// A missing CRD is the caller's to report (it changes what the caller does).
void log_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing);

}  // namespace mlnetpol::controller
