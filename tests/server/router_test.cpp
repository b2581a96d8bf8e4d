#include "server/router.hpp"

#include <doctest/doctest.h>

using namespace mlnetpol::server;

TEST_CASE("the path alone routes; the API server's ?timeout= is ignored") {
  CHECK(path_of("/mutate?timeout=5s") == "/mutate");
  CHECK(path_of("/validate") == "/validate");
  CHECK(path_of("/x#frag") == "/x");
  auto m = match_route("POST", "/mutate?timeout=5s", listener_kind::webhook);
  CHECK(m.target == route::mutate);
  CHECK(m.method_allowed);
  m = match_route("POST", "/validate?timeout=10s&x=y", listener_kind::webhook);
  CHECK(m.target == route::validate);
  CHECK(m.method_allowed);
}

TEST_CASE("wrong method: 405 with the Allow header") {
  auto m = match_route("GET", "/mutate", listener_kind::webhook);
  CHECK(m.target == route::mutate);
  CHECK_FALSE(m.method_allowed);
  CHECK(m.allow == "POST");
  m = match_route("POST", "/healthz", listener_kind::webhook);
  CHECK(m.target == route::healthz);
  CHECK_FALSE(m.method_allowed);
  CHECK(m.allow == "GET");
  m = match_route("DELETE", "/metrics", listener_kind::metrics);
  CHECK_FALSE(m.method_allowed);
}

TEST_CASE("probe and scrape routes on both listeners, admission only on the webhook one") {
  for (auto kind : {listener_kind::webhook, listener_kind::metrics}) {
    CHECK(match_route("GET", "/healthz", kind).target == route::healthz);
    CHECK(match_route("GET", "/readyz", kind).target == route::readyz);
    CHECK(match_route("GET", "/metrics", kind).target == route::metrics);
    CHECK(match_route("GET", "/status", kind).target == route::status);
    CHECK(match_route("GET", "/readyz?verbose", kind).method_allowed);
  }
  CHECK(match_route("POST", "/mutate", listener_kind::metrics).target == route::not_found);
  CHECK(match_route("POST", "/validate", listener_kind::metrics).target == route::not_found);
}

TEST_CASE("unknown paths are not found, exact match only") {
  for (auto path : {"/", "/mutate/", "/Mutate", "/mutatex", "/validate/x", "", "*"}) {
    CAPTURE(path);
    CHECK(match_route("POST", path, listener_kind::webhook).target == route::not_found);
  }
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
