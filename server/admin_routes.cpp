#include "server/admin_routes.hpp"

namespace mlnetpol::server {

void add_admin_routes(mux& routes, admin_sources sources) {
  routes.handle("/healthz", "GET", listeners::both, [](const http_request&, http_response& r) {
    r.status = 200;
    r.content_type = text_plain;
    r.body = "ok";
  });
  routes.handle("/readyz", "GET", listeners::both,
                [ready = sources.not_ready_reason](const http_request&, http_response& r) {
                  r.content_type = text_plain;
                  const std::string why = ready();
                  r.status = why.empty() ? 200 : 503;
                  r.body = why.empty() ? "ok" : "not ready: " + why;
                });
  routes.handle("/metrics", "GET", listeners::metrics,
                [text = sources.metrics_text](const http_request&, http_response& r) {
                  r.status = 200;
                  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                  r.body = text();
                });
}

}  // namespace mlnetpol::server
