#include "server/mux.hpp"

#include "server/http_parser.hpp"
#include "server/webhook_route.hpp"

namespace mlnetpol::server {

namespace {

bool answers_on(listeners where, listener_kind from) {
  if (where == listeners::both) return true;
  return (where == listeners::webhook) == (from == listener_kind::webhook);
}

}  // namespace

void mux::handle(std::string path, admission::handler& h) {
  std::string name = path.size() > 1 && path.front() == '/' ? path.substr(1) : path;
  handle(std::move(path), "POST", listeners::webhook,
         webhook_route(std::move(name), h, stats_, &on_denial_, &log_limiter_));
}

void mux::handle(std::string path, std::string_view method, listeners where, handler_fn fn) {
  routes_.push_back(route{std::move(path), std::string(method), where, std::move(fn)});
}

mux::match mux::find(std::string_view method, std::string_view target, listener_kind from) const {
  const std::string_view path = path_of(target);
  match m;
  for (const auto& r : routes_) {
    if (r.path != path || !answers_on(r.where, from)) continue;
    m.fn = &r.fn;
    m.allow = r.method;
    m.method_allowed = r.method == method;
    if (m.method_allowed) break;
  }
  return m;
}

void mux::serve(listener_kind from, const http_request& request, http_response& response) const {
  response.allow = {};
  const match m = find(request.method, request.target, from);
  if (m.fn == nullptr) {
    response.status = 404;
    response.content_type = text_plain;
    response.body = "404 page not found: ";
    response.body += request.path;
    return;
  }
  if (!m.method_allowed) {
    response.status = 405;
    response.content_type = text_plain;
    response.body = "method ";
    response.body += request.method;
    response.body += " not allowed on ";
    response.body += request.path;
    response.body += "; allowed: ";
    response.body += m.allow;
    response.allow = m.allow;
    return;
  }
  (*m.fn)(request, response);
}

}  // namespace mlnetpol::server
