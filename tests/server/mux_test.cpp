#include "server/mux.hpp"

#include <doctest/doctest.h>

#include "server/admin_routes.hpp"
#include "server/http_parser.hpp"
#include "server/metrics.hpp"

using namespace mlnetpol::server;

namespace {

class allow_all final : public mlnetpol::admission::handler {
 public:
  mlnetpol::admission::review_response handle(const mlnetpol::admission::review_request&) override {
    return {};
  }
};

// The routes `serve` has: two webhooks and the admin routes.
struct serve_routes {
  metrics stats;
  mux routes{stats};
  allow_all mutate;
  allow_all validate;
  serve_routes() {
    routes.handle("/mutate", mutate);
    routes.handle("/validate", validate);
    add_admin_routes(routes, {[] { return std::string(); }, [] { return std::string(); }});
    routes.handle("/status", "GET", listeners::metrics, [](const http_request&, http_response&) {});
  }
  mux::match find(std::string_view method, std::string_view target,
                  listener_kind from = listener_kind::webhook) const {
    return routes.find(method, target, from);
  }
};

bool found(const mux::match& m) {
  return m.fn != nullptr;
}

// What the mux answers to a request without a body.
http_response serve(const serve_routes& r, std::string_view method, std::string_view target) {
  http_request request;
  request.method = method;
  request.target = target;
  request.path = path_of(target);
  http_response response;
  r.routes.serve(listener_kind::webhook, request, response);
  return response;
}

}  // namespace

TEST_CASE("the path alone routes; the API server's ?timeout= is ignored") {
  CHECK(path_of("/mutate?timeout=5s") == "/mutate");
  CHECK(path_of("/validate") == "/validate");
  CHECK(path_of("/x#frag") == "/x");
  serve_routes r;
  auto m = r.find("POST", "/mutate?timeout=5s");
  CHECK(found(m));
  CHECK(m.method_allowed);
  m = r.find("POST", "/validate?timeout=10s&x=y");
  CHECK(found(m));
  CHECK(m.method_allowed);
}

TEST_CASE("wrong method: 405 with the Allow header") {
  serve_routes r;
  auto m = r.find("GET", "/mutate");
  CHECK(found(m));
  CHECK_FALSE(m.method_allowed);
  CHECK(m.allow == "POST");
  m = r.find("POST", "/healthz");
  CHECK(found(m));
  CHECK_FALSE(m.method_allowed);
  CHECK(m.allow == "GET");
  m = r.find("DELETE", "/metrics", listener_kind::metrics);
  CHECK_FALSE(m.method_allowed);

  const http_response response = serve(r, "GET", "/mutate");
  CHECK(response.status == 405);
  CHECK(response.allow == "POST");
  CHECK(response.body == "method GET not allowed on /mutate; allowed: POST");
}

TEST_CASE("probes on both listeners, scrapes on the metrics one, admission on the webhook one") {
  serve_routes r;
  for (auto kind : {listener_kind::webhook, listener_kind::metrics}) {
    CHECK(found(r.find("GET", "/healthz", kind)));
    CHECK(found(r.find("GET", "/readyz", kind)));
    CHECK(r.find("GET", "/readyz?verbose", kind).method_allowed);
  }
  CHECK(found(r.find("GET", "/metrics", listener_kind::metrics)));
  CHECK(found(r.find("GET", "/status", listener_kind::metrics)));
  CHECK_FALSE(found(r.find("GET", "/metrics", listener_kind::webhook)));
  CHECK_FALSE(found(r.find("GET", "/status", listener_kind::webhook)));
  CHECK_FALSE(found(r.find("POST", "/mutate", listener_kind::metrics)));
  CHECK_FALSE(found(r.find("POST", "/validate", listener_kind::metrics)));
}

TEST_CASE("unknown paths are not found, exact match only") {
  serve_routes r;
  for (auto path : {"/", "/mutate/", "/Mutate", "/mutatex", "/validate/x", "", "*"}) {
    CAPTURE(path);
    CHECK_FALSE(found(r.find("POST", path)));
  }
  const http_response response = serve(r, "POST", "/nope?x");
  CHECK(response.status == 404);
  CHECK(response.body == "404 page not found: /nope");
}

TEST_CASE("a new webhook is one handle() line, counted under its name") {
  serve_routes r;
  allow_all extra;
  r.routes.handle("/validate-workloads", extra);
  const std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},)"
      R"("resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE",)"
      R"("userInfo":{"username":"u"},"object":{}}})";
  http_request request;
  request.method = "POST";
  request.target = "/validate-workloads?timeout=5s";
  request.path = "/validate-workloads";
  request.content_type = "application/json";
  request.has_content_type = true;
  request.body = body;
  http_response response;
  r.routes.serve(listener_kind::webhook, request, response);
  CHECK(response.status == 200);
  CHECK(response.body.find("\"uid\":\"u1\"") != std::string::npos);
  CHECK(r.stats.admission_requests("validate-workloads", "Pod", "CREATE", "allowed") == 1);
}

TEST_CASE("Content-Type: application/json with parameters and any case") {
  CHECK(is_json_content_type("application/json"));
  CHECK(is_json_content_type("application/json; charset=utf-8"));
  CHECK(is_json_content_type("Application/JSON;charset=UTF-8"));
  CHECK(is_json_content_type(" application/json "));
  CHECK_FALSE(is_json_content_type(""));
  CHECK_FALSE(is_json_content_type("text/plain"));
  CHECK_FALSE(is_json_content_type("application/json-patch+json"));
  CHECK_FALSE(is_json_content_type("application/jsonx"));
  CHECK_FALSE(is_json_content_type("application/x-www-form-urlencoded"));
}
