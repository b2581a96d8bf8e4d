#pragma once
// The transport checks, metrics and decision log around one AdmissionReview handler: what
// mux::handle(path, handler) registers.
#include <string>

#include "admission/review.hpp"
#include "server/mux.hpp"

namespace mlnetpol::server {

// on_denial (may be null or empty; must outlive the route) is told of each denial that is not a
// dry run, after the response is encoded. limiter (may be null: no limit; must outlive the route)
// bounds the decision lines logged at info.
mux::handler_fn webhook_route(std::string name, admission::handler& h, metrics& stats,
                              const mux::denial_fn* on_denial = nullptr,
                              log_limiter* limiter = nullptr);

}  // namespace mlnetpol::server
