#pragma once
// The transport checks, metrics and decision log around one AdmissionReview handler: what
// mux::handle(path, handler) registers.
#include <string>

#include "admission/review.hpp"
#include "server/mux.hpp"

namespace mlnetpol::server {

mux::handler_fn webhook_route(std::string name, admission::handler& h, metrics& stats);

}  // namespace mlnetpol::server
