#include "controller/api_failures.hpp"

#include "common/obs/logging.hpp"

namespace mlnetpol::controller {

void log_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing) {
  namespace logging = obs::logging;
  using level = spdlog::level::level_enum;
  const char* verb = listing ? "list" : "watch";
  const std::string what = std::string(verb) + " " + r.rbac_name();
  switch (e.kind) {
    case k8s::failure_kind::unauthorized:
      logging::event(level::err, authentication_failed,
                     {{"verb", verb},
                      {"resource", what},
                      {"status", static_cast<int>(e.status)},
                      {"error", e.message}});
      return;
    case k8s::failure_kind::forbidden:
      logging::event(level::err, "RBAC must grant this",
                     {{"verb", verb}, {"resource", what}, {"error", e.message}});
      return;
    default:
      logging::event(
          level::warn, "informer error, retrying",
          {{"resource", what}, {"error", e.message}, {"status", static_cast<int>(e.status)}});
      return;
  }
}

}  // namespace mlnetpol::controller
