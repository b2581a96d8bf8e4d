#include "controller/api_failures.hpp"

#include <string>

#include "common/obs/logging.hpp"

namespace mlnetpol::controller {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

failure_class classify_failure(const k8s::api_error& e) {
  switch (e.kind) {
    case k8s::failure_kind::unauthorized:
      return failure_class::unauthenticated;
    case k8s::failure_kind::forbidden:
      return failure_class::forbidden;
    case k8s::failure_kind::not_found:
    case k8s::failure_kind::namespace_terminating:
      return failure_class::gone;
    case k8s::failure_kind::crd_missing:
      return failure_class::crd_missing;
    default:
      return failure_class::retry;
  }
}

bool log_unfixable(const k8s::api_error& e, std::string_view verb, std::string_view resource) {
  switch (classify_failure(e)) {
    case failure_class::unauthenticated:
      logging::event(level::err, authentication_failed,
                     {{"verb", verb},
                      {"resource", resource},
                      {"status", static_cast<int>(e.status)},
                      {"error", e.message}});
      return true;
    case failure_class::forbidden:
      logging::event(level::err, "RBAC must grant this",
                     {{"verb", verb}, {"resource", resource}, {"error", e.message}});
      return true;
    default:
      return false;
  }
}

void log_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing) {
  const char* verb = listing ? "list" : "watch";
  const std::string what = std::string(verb) + " " + r.rbac_name();
  if (log_unfixable(e, verb, what)) return;
  logging::event(
      level::warn, "informer error, retrying",
      {{"resource", what}, {"error", e.message}, {"status", static_cast<int>(e.status)}});
}

}  // namespace mlnetpol::controller
