#pragma once
// The probe and scrape routes: GET /healthz and /readyz on both listeners, GET /metrics only on
// the metrics listener (the webhook port is reachable by far more clients than the scraper).
#include <functional>
#include <string>

#include "server/mux.hpp"

namespace mlnetpol::server {

struct admin_sources {
  std::function<std::string()> not_ready_reason;  // empty when ready
  std::function<std::string()> metrics_text;      // the Prometheus text format
};

void add_admin_routes(mux& routes, admin_sources sources);

}  // namespace mlnetpol::server
