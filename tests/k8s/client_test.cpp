// The client against the in-process fake API server: request shapes, paging, watches, keep-alive,
// TLS verification, timeouts, cancel() and token rotation.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "tests/support/fake_apiserver_config.hpp"

namespace k8s = mlnetpol::k8s;
using namespace mlnetpol::testing;
using namespace std::chrono_literals;

namespace {

std::string path_of(const std::string& target) {
  return target.substr(0, target.find('?'));
}

received_request last(const std::vector<received_request>& requests) {
  REQUIRE_FALSE(requests.empty());
  return requests.back();
}

std::string json_line(const std::string& type, const std::string& name, const std::string& rv) {
  return nlohmann::json{{"type", type},
                        {"object",
                         {{"kind", "Namespace"},
                          {"apiVersion", "v1"},
                          {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}}
      .dump();
}

}  // namespace

TEST_CASE("server-side apply: PATCH, apply-patch+yaml, fieldManager and force; the client cert") {
  fake_apiserver server;
  const std::string target = server.serve_fixture("networkpolicy-ssa-create");
  k8s::client client(config_for(server));
  const std::string body = R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy"})";
  auto applied = client.apply(k8s::network_policies, "ml-training", "default-deny-ingress", body);
  REQUIRE(applied.has_value());
  CHECK(applied->name == "default-deny-ingress");
  CHECK(applied->labels.at("app.kubernetes.io/managed-by") == "mlnetpol");
  const auto r = last(server.requests());
  CHECK(r.method == "PATCH");
  CHECK(r.target == target);
  CHECK(r.query == "fieldManager=mlnetpol&force=true");
  CHECK(r.headers.at("content-type") == "application/apply-patch+yaml");
  CHECK(r.headers.at("accept") == "application/json");
  CHECK(r.headers.at("user-agent") == "mlnetpol");
  CHECK(r.body == body);
  CHECK(r.client_cn == "admin");
  CHECK(r.headers.count("authorization") == 0);
}

TEST_CASE("every captured answer reaches the caller classified, over the wire") {
  fake_apiserver server;
  k8s::client client(config_for(server));
  struct wire_case {
    std::string fixture;
    std::function<std::optional<k8s::api_error>()> call;
  };
  auto err = [](auto r) -> std::optional<k8s::api_error> {
    if (r.has_value()) return std::nullopt;
    return r.error();
  };
  const std::string np_body = "{}";
  std::vector<wire_case> cases{
      {"ciliumnetworkpolicy-ssa-crd-not-installed",
       [&] {
         return err(client.apply(k8s::cilium_network_policies, "ml-training",
                                 "default-deny-with-dns", np_body));
       }},
      {"networkpolicy-ssa-namespace-not-found",
       [&] {
         return err(client.apply(k8s::network_policies, "no-such-namespace", "default-deny-ingress",
                                 np_body));
       }},
      {"networkpolicy-ssa-namespace-terminating",
       [&] {
         return err(
             client.apply(k8s::network_policies, "gone-ns", "default-deny-ingress", np_body));
       }},
      {"networkpolicy-ssa-invalid",
       [&] {
         return err(client.apply(k8s::network_policies, "ml-training", "bad-policy", np_body));
       }},
      {"networkpolicy-ssa-unknown-field",
       [&] {
         return err(client.apply(k8s::network_policies, "ml-training", "allow-dns", np_body));
       }},
      {"forbidden-impersonated-serviceaccount-list-namespaces",
       [&] { return err(client.list(k8s::namespaces, "", "", 0, "")); }},
      {"namespace-merge-patch-not-found",
       [&] { return err(client.merge_patch(k8s::namespaces, "", "gone-ns", "{}")); }},
      {"networkpolicy-delete-not-found",
       [&] { return err(client.remove(k8s::network_policies, "ml-training", "allow-dns")); }},
      {"networkpolicy-create-already-exists",
       [&] { return err(client.create(k8s::network_policies, "ml-training", "{}")); }},
      {"lease-get-not-found",
       [&] { return err(client.get_lease("mlnetpol-system", "mlnetpol-reconciler")); }},
      {"namespace-get-not-found",
       [&] { return err(client.get(k8s::namespaces, "", "does-not-exist")); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.fixture);
    server.serve_fixture(c.fixture);
    const auto expected = fixture_response(c.fixture);
    std::string content_type;
    for (const auto& [k, v] : expected.headers)
      if (k == "Content-Type" || k == "content-type") content_type = v;
    const auto want = k8s::classify_response(expected.status, content_type, expected.body, "");
    const auto got = c.call();
    REQUIRE(got.has_value());
    CHECK(k8s::to_string(got->kind) == k8s::to_string(want.kind));
    CHECK(got->status == expected.status);
    CHECK(got->message == want.message);
    CHECK_FALSE(got->verb.empty());
    const auto [method, target] = fixture_request(c.fixture);
    CHECK(last(server.requests()).method == method);
    CHECK(path_of(last(server.requests()).target) == path_of(target));
  }
  CHECK(server.connections() == 1);  // keep-alive across error answers too
}

TEST_CASE("get, get_raw, merge patch, delete and create: verbs, paths and bodies") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  server.serve_fixture("namespace-merge-patch-labels");
  server.serve_fixture("networkpolicy-delete");
  k8s::client client(config_for(server));

  auto ns = client.get(k8s::namespaces, "", "ml-training");
  REQUIRE(ns.has_value());
  CHECK(ns->labels.at("workload-type") == "training");
  auto raw = client.get_raw(k8s::namespaces, "", "ml-training");
  REQUIRE(raw.has_value());
  CHECK(nlohmann::json::parse(*raw)["metadata"]["name"] == "ml-training");

  const std::string patch = R"({"metadata":{"labels":{"mlnetpol.io/secured":"true"}}})";
  auto patched = client.merge_patch(k8s::namespaces, "", "ml-training", patch);
  REQUIRE(patched.has_value());
  auto r = last(server.requests());
  CHECK(r.method == "PATCH");
  CHECK(r.headers.at("content-type") == "application/merge-patch+json");
  CHECK(r.query == "fieldManager=mlnetpol");
  CHECK(r.body == patch);

  auto removed = client.remove(k8s::network_policies, "ml-training", "allow-dns");
  CHECK(removed.has_value());
  CHECK(last(server.requests()).method == "DELETE");

  canned_response created = fixture_response("networkpolicy-ssa-create");
  created.status = 201;
  server.on("POST", "/apis/events.k8s.io/v1/namespaces/ml-training/events", created);
  auto event = client.create(k8s::events, "ml-training", R"({"kind":"Event"})");
  REQUIRE(event.has_value());
  r = last(server.requests());
  CHECK(r.method == "POST");
  CHECK(r.headers.at("content-type") == "application/json");

  // Local checks: nothing is sent for an object verb without a name or namespace.
  const auto before = server.requests().size();
  auto no_ns = client.apply(k8s::network_policies, "", "x", "{}");
  REQUIRE_FALSE(no_ns.has_value());
  CHECK(no_ns.error().kind == k8s::failure_kind::invalid);
  CHECK_FALSE(client.get(k8s::namespaces, "", "").has_value());
  CHECK(server.requests().size() == before);
  CHECK(server.connections() == 1);
}

TEST_CASE("list: label selector, limit and continue are encoded; pages follow the token") {
  fake_apiserver server;
  const std::string path = "/apis/networking.k8s.io/v1/networkpolicies";
  const auto first = fixture_response("networkpolicy-list-all-namespaces-managed-by-mlnetpol");
  const std::string token = nlohmann::json::parse(first.body)["metadata"]["continue"];
  auto second = fixture_response("networkpolicy-list-managed-by-mlnetpol");
  server.on("GET", path, [&](const received_request& r) {
    return r.query.find("continue=") == std::string::npos ? first : second;
  });
  k8s::client client(config_for(server));
  auto page =
      client.list(k8s::network_policies, "", "app.kubernetes.io/managed-by=mlnetpol", 1, "");
  REQUIRE(page.has_value());
  CHECK(page->continue_token == token);
  CHECK(last(server.requests()).query ==
        "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmlnetpol&limit=1");

  auto all = client.list_all(k8s::network_policies, "", "app.kubernetes.io/managed-by=mlnetpol", 1);
  REQUIRE(all.has_value());
  const auto second_items = nlohmann::json::parse(second.body)["items"].size();
  CHECK(all->items.size() == 1 + second_items);
  CHECK(all->continue_token.empty());
  const auto requests = server.requests();
  CHECK(requests.back().query.find("continue=" + token) != std::string::npos);
}

TEST_CASE("list_all asks for pages of 500 by default: a relist of 10,000s is a few calls") {
  fake_apiserver server;
  const auto page = fixture_response("networkpolicy-list-managed-by-mlnetpol");
  server.on("GET", "/apis/networking.k8s.io/v1/networkpolicies",
            [&](const received_request&) { return page; });
  k8s::client client(config_for(server));
  auto all = client.list_all(k8s::network_policies, "", "app.kubernetes.io/managed-by=mlnetpol");
  REQUIRE(all.has_value());
  CHECK(last(server.requests()).query ==
        "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmlnetpol&limit=500");
}

TEST_CASE("a chunked list: every item, the deleting namespace flagged") {
  fake_apiserver server;
  server.serve_fixture("namespace-list");
  REQUIRE(fixture_response("namespace-list").chunked);
  k8s::client client(config_for(server));
  auto page = client.list(k8s::namespaces, "", "", 0, "");
  REQUIRE(page.has_value());
  REQUIRE(page->items.size() == 6);
  CHECK(page->resource_version == "241");
  CHECK(page->items[5].name == "team-a");
  CHECK(page->items[5].deleting);
  CHECK(page->items[5].kind == "Namespace");
  CHECK(page->items[4].labels.at("workload-type") == "training");
  CHECK(last(server.requests()).target == "/api/v1/namespaces");
}

TEST_CASE("429 and 503 over the wire: retryable, Retry-After parsed") {
  fake_apiserver server;
  canned_response throttled;
  throttled.status = 429;
  throttled.headers = {{"Content-Type", "application/json"}, {"Retry-After", "2"}};
  throttled.body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":2},"code":429})";
  server.on("PATCH", "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies/p", throttled);
  canned_response unavailable;
  unavailable.status = 503;
  unavailable.headers = {{"Content-Type", "text/plain"}, {"Retry-After", "7"}};
  unavailable.body = "upstream connect error";
  server.on("GET", "/api/v1/namespaces/a", unavailable);
  k8s::client client(config_for(server));
  auto r = client.apply(k8s::network_policies, "a", "p", "{}");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == k8s::failure_kind::throttled);
  CHECK(r.error().retry_after == std::chrono::seconds(2));
  CHECK(r.error().retryable());
  auto g = client.get(k8s::namespaces, "", "a");
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error().kind == k8s::failure_kind::server_error);
  CHECK(g.error().retry_after == std::chrono::seconds(7));
  CHECK(g.error().message == "upstream connect error");
  CHECK(server.connections() == 1);
}

TEST_CASE("list_all relists once when the continue token expired") {
  fake_apiserver server;
  const std::string path = "/apis/networking.k8s.io/v1/networkpolicies";
  auto first = fixture_response("networkpolicy-list-all-namespaces-managed-by-mlnetpol");
  auto expired = fixture_response("networkpolicy-list-expired-continue-token");
  auto last_page = fixture_response("networkpolicy-list-managed-by-mlnetpol");
  std::atomic<int> continues{0};
  server.on("GET", path, [&](const received_request& r) {
    if (r.query.find("continue=") == std::string::npos) return first;
    // The first continue finds the snapshot compacted; after the relist it works.
    return ++continues == 1 ? expired : last_page;
  });
  k8s::client client(config_for(server));
  auto all = client.list_all(k8s::network_policies, "", "app.kubernetes.io/managed-by=mlnetpol", 1);
  REQUIRE(all.has_value());
  const auto last_items = nlohmann::json::parse(last_page.body)["items"].size();
  CHECK(all->items.size() == 1 + last_items);  // nothing from before the relist is kept twice
  const auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[2].query.find("continue") == std::string::npos);

  // Always expired: the second 410 is returned, not looped on.
  continues = -100;
  server.on("GET", path, [&](const received_request& r) {
    return r.query.find("continue=") == std::string::npos ? first : expired;
  });
  auto failed = client.list_all(k8s::network_policies, "", "", 1);
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().kind == k8s::failure_kind::expired);
  CHECK(server.requests().size() == 8);
}

TEST_CASE("watch: query, events across chunk boundaries, bookmarks, the 410 ERROR event") {
  fake_apiserver server;
  const std::string path = "/api/v1/namespaces";
  const std::string stream = read_fixture_file("namespace-watch-from-resourceversion.ndjson");
  canned_response res;
  res.headers = {{"Content-Type", "application/json"}};
  // Split lines mid-object and glue others together, as TCP and chunking may.
  const std::string bookmark =
      R"({"type":"BOOKMARK","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"resourceVersion":"260","creationTimestamp":null}}})";
  const std::string all = stream + bookmark + "\n";
  res.chunks = {all.substr(0, 7), all.substr(7, 500), all.substr(507, 1), all.substr(508)};
  res.pause = 20ms;
  server.on("GET", path, res);
  k8s::client client(config_for(server));
  std::vector<k8s::watch_event> events;
  auto done = client.watch(k8s::namespaces, "", "", "252", 30s, [&](const k8s::watch_event& e) {
    events.push_back(e);
    return true;
  });
  REQUIRE(done.has_value());
  const auto r = last(server.requests());
  CHECK(r.query == "watch=1&allowWatchBookmarks=true&resourceVersion=252&timeoutSeconds=30");
  REQUIRE(events.size() == 4);
  CHECK(events[0].event_type == k8s::watch_event::type::added);
  CHECK(events[0].object.name == "ml-watch-demo");
  CHECK(events[2].object.deleting);
  CHECK(events[3].event_type == k8s::watch_event::type::bookmark);
  CHECK(events[3].object.resource_version == "260");

  // Too old: HTTP 200, one ERROR event with code 410, then the end of the stream.
  canned_response gone = fixture_response("namespace-watch-too-old-resourceversion");
  server.on("GET", path, gone);
  events.clear();
  done = client.watch(k8s::namespaces, "", "", "100", 30s, [&](const k8s::watch_event& e) {
    events.push_back(e);
    return true;
  });
  REQUIRE(done.has_value());
  REQUIRE(events.size() == 1);
  CHECK(events[0].event_type == k8s::watch_event::type::error);
  CHECK(events[0].error_code == 410);
  CHECK(server.connections() == 1);  // a watch that ended cleanly leaves the connection reusable
}

TEST_CASE("watch: on_event returning false stops; a non-200 answer is classified; bad lines fail") {
  fake_apiserver server;
  const std::string path = "/apis/networking.k8s.io/v1/networkpolicies";
  canned_response res;
  res.headers = {{"Content-Type", "application/json"}};
  res.chunks = {read_fixture_file("networkpolicy-watch-managed-by-mlnetpol.ndjson")};
  res.chunks.push_back(json_line("ADDED", "never-seen", "999") + "\n");
  res.pause = 1000ms;  // the second chunk would come later: stopping must not wait for it
  server.on("GET", path, res);
  k8s::client client(config_for(server));
  int seen = 0;
  const auto started = std::chrono::steady_clock::now();
  auto done = client.watch(k8s::network_policies, "", "app.kubernetes.io/managed-by=mlnetpol", "",
                           8s, [&](const k8s::watch_event&) { return ++seen < 2; });
  CHECK(done.has_value());
  CHECK(seen == 2);
  CHECK(std::chrono::steady_clock::now() - started < 1800ms);
  CHECK(last(server.requests()).query ==
        "watch=1&allowWatchBookmarks=true&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmlnetpol&"
        "timeoutSeconds=8");

  server.on("GET", path, fixture_response("forbidden-impersonated-serviceaccount"));
  done = client.watch(k8s::network_policies, "", "", "", 8s,
                      [](const k8s::watch_event&) { return true; });
  REQUIRE_FALSE(done.has_value());
  CHECK(done.error().kind == k8s::failure_kind::forbidden);
  CHECK(done.error().verb == "watch");

  canned_response garbage;
  garbage.chunks = {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}\nnot json\n"};
  server.on("GET", path, garbage);
  seen = 0;
  done = client.watch(k8s::network_policies, "", "", "", 8s, [&](const k8s::watch_event&) {
    ++seen;
    return true;
  });
  REQUIRE_FALSE(done.has_value());
  CHECK(done.error().kind == k8s::failure_kind::transport);
  CHECK(seen == 1);
}

TEST_CASE("watch: a line longer than the bound ends the watch instead of growing without limit") {
  fake_apiserver server;
  canned_response res;
  res.headers = {{"Content-Type", "application/json"}};
  const std::string huge(1u << 20, 'x');
  res.chunks.push_back(json_line("ADDED", "first", "1") + "\n{\"type\":\"ADDED\",\"object\":\"");
  for (int i = 0; i < 17; ++i) res.chunks.push_back(huge);
  res.chunks.push_back("\"}\n");
  server.on("GET", "/api/v1/namespaces", res);
  k8s::client client(config_for(server));
  int seen = 0;
  auto done = client.watch(k8s::namespaces, "", "", "", 30s, [&](const k8s::watch_event&) {
    ++seen;
    return true;
  });
  REQUIRE_FALSE(done.has_value());
  CHECK(done.error().message.find("longer than") != std::string::npos);
  CHECK(seen == 1);
}

TEST_CASE("keep-alive: one connection serves many calls; a closed idle connection is replaced") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  k8s::client client(config_for(server));
  for (int i = 0; i < 5; ++i) REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(server.connections() == 1);
  std::set<int> ids;
  for (const auto& r : server.requests()) ids.insert(r.connection);
  CHECK(ids.size() == 1);

  // The server closes after answering: the next call connects again without failing.
  auto closing = fixture_response("namespace-get");
  closing.close_after = true;
  server.on("GET", "/api/v1/namespaces/ml-training", closing);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  std::this_thread::sleep_for(50ms);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(server.connections() == 2);

  // The server drops the idle connection silently (as after its idle timeout): the request that
  // finds it dead is sent again on a new connection, once, and succeeds.
  auto dropping = fixture_response("namespace-get");
  dropping.drop_after = true;
  server.on("GET", "/api/v1/namespaces/ml-training", dropping);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  std::this_thread::sleep_for(50ms);
  auto r = client.get(k8s::namespaces, "", "ml-training");
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(server.connections() == 4);
}

TEST_CASE("keep-alive: a watch that finds its pooled connection dropped goes again, once") {
  fake_apiserver server;
  auto dropping = fixture_response("namespace-get");
  dropping.drop_after = true;
  server.on("GET", "/api/v1/namespaces/ml-training", dropping);
  server.on("GET", "/api/v1/namespaces",
            fixture_response("namespace-watch-too-old-resourceversion"));
  k8s::client client(config_for(server));
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  std::this_thread::sleep_for(50ms);
  std::vector<k8s::watch_event> events;
  auto done = client.watch(k8s::namespaces, "", "", "100", 30s, [&](const k8s::watch_event& e) {
    events.push_back(e);
    return true;
  });
  REQUIRE_MESSAGE(done.has_value(), done.error().message);
  REQUIRE(events.size() == 1);
  CHECK(events[0].error_code == 410);
  CHECK(server.connections() == 2);
}

TEST_CASE("TLS: a wrong CA or a name the certificate lacks fails; the IP SAN and DNS name pass") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  {
    auto config = config_for(server);
    test_ca other("some-other-ca");
    config.ca_pem = other.cert_pem();
    k8s::client client(config);
    auto r = client.get(k8s::namespaces, "", "ml-training");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == k8s::failure_kind::transport);
    CHECK(r.error().status == 0);
    CHECK(r.error().message.find("certificate verify failed") != std::string::npos);
  }
  {
    auto config = config_for(server);
    config.tls_server_name = "kubernetes.default.svc";
    k8s::client client(config);
    auto r = client.get(k8s::namespaces, "", "ml-training");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("kubernetes.default.svc") != std::string::npos);
  }
  {
    auto config = config_for(server);
    config.tls_server_name = "127.0.0.2";
    k8s::client client(config);
    CHECK_FALSE(client.get(k8s::namespaces, "", "ml-training").has_value());
  }
  {
    auto config = config_for(server);
    config.tls_server_name = "localhost";
    k8s::client client(config);
    CHECK(client.get(k8s::namespaces, "", "ml-training").has_value());
  }
  {
    auto config = config_for(server);
    config.host = "localhost";  // resolved by name
    config.tls_server_name = "";
    k8s::client client(config);
    CHECK(client.get(k8s::namespaces, "", "ml-training").has_value());
  }
  {
    auto config = config_for(server);
    config.ca_pem = "not a certificate";
    k8s::client client(config);
    auto r = client.get(k8s::namespaces, "", "ml-training");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("CA") != std::string::npos);
  }
}

TEST_CASE("timeouts: a slow answer and an unreachable port end within the deadline") {
  fake_apiserver server;
  auto slow = fixture_response("namespace-get");
  slow.delay = 3s;
  server.on("GET", "/api/v1/namespaces/slow", slow);
  k8s::client_options options;
  options.request_timeout = 300ms;
  options.connect_timeout = 300ms;
  k8s::client client(config_for(server), options);
  auto started = std::chrono::steady_clock::now();
  auto r = client.get(k8s::namespaces, "", "slow");
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == k8s::failure_kind::transport);
  CHECK(r.error().retryable());
  CHECK(r.error().message.find("timed out") != std::string::npos);
  CHECK(took >= 290ms);
  CHECK(took < 1500ms);

  // A port where nothing listens: refused at once.
  auto config = config_for(server);
  config.port = 1;
  k8s::client refused(config, options);
  r = refused.get(k8s::namespaces, "", "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("connect") != std::string::npos);
}

TEST_CASE("cancel() from another thread ends a watch and a slow call; later calls fail at once") {
  fake_apiserver server;
  canned_response endless;
  endless.headers = {{"Content-Type", "application/json"}};
  for (int i = 0; i < 100; ++i)
    endless.chunks.push_back(json_line("ADDED", "ns" + std::to_string(i), std::to_string(i)) +
                             "\n");
  endless.pause = 100ms;
  server.on("GET", "/api/v1/namespaces", endless);
  canned_response hang;
  hang.hang = true;
  server.on("GET", "/api/v1/namespaces/hang", hang);
  k8s::client client(config_for(server));

  std::atomic<int> seen{0};
  std::optional<k8s::api_result<void>> watched;
  std::optional<k8s::api_result<k8s::object_meta>> got;
  std::thread watcher([&] {
    watched = client.watch(k8s::namespaces, "", "", "", 300s, [&](const k8s::watch_event&) {
      ++seen;
      return true;
    });
  });
  std::thread getter([&] { got = client.get(k8s::namespaces, "", "hang"); });
  while (seen < 2) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  const auto started = std::chrono::steady_clock::now();
  client.cancel();
  watcher.join();
  getter.join();
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  REQUIRE(watched.has_value());
  REQUIRE_FALSE(watched->has_value());
  CHECK(watched->error().message == "cancelled");
  REQUIRE(got.has_value());
  REQUIRE_FALSE(got->has_value());
  CHECK(got->error().message == "cancelled");
  CHECK(seen < 50);
  auto after = client.get(k8s::namespaces, "", "ml-training");
  REQUIRE_FALSE(after.has_value());
  CHECK(after.error().message == "cancelled");
}

TEST_CASE("bearer tokens: a static one is sent; a token file is re-read when it changes") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  temp_dir dir;
  const auto token_file = dir.path / "token";
  auto write = [&](const std::string& text) {
    // As kubelet does: a new file renamed over the old one.
    std::ofstream(dir.path / "token.new") << text;
    std::filesystem::rename(dir.path / "token.new", token_file);
  };
  write("first-token\n");
  auto config = config_for(server);
  config.client_cert_pem.clear();
  config.client_key_pem.clear();
  config.bearer_token_file = token_file;
  k8s::client client(config);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(last(server.requests()).headers.at("authorization") == "Bearer first-token");
  CHECK(last(server.requests()).client_cn.empty());
  write("second-token");
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(last(server.requests()).headers.at("authorization") == "Bearer second-token");
  std::filesystem::remove(token_file);  // a missing file keeps the last token
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(last(server.requests()).headers.at("authorization") == "Bearer second-token");

  auto static_config = config_for(server);
  static_config.bearer_token = "static-token";
  k8s::client with_static(static_config);
  REQUIRE(with_static.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(last(server.requests()).headers.at("authorization") == "Bearer static-token");
}

TEST_CASE("leases: get, create, update with resourceVersion; races answer 409 kinds") {
  fake_apiserver server;
  server.serve_fixture("lease-get-not-found");
  k8s::client client(config_for(server));
  auto missing = client.get_lease("mlnetpol-system", "mlnetpol-reconciler");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == k8s::failure_kind::not_found);

  server.serve_fixture("lease-create");
  k8s::lease_record lease;
  lease.namespace_name = "mlnetpol-system";
  lease.name = "mlnetpol-reconciler";
  lease.holder_identity = "mlnetpol-7d9c-abcde";
  lease.acquire_time = lease.renew_time = "2026-11-30T11:00:00.000000Z";
  auto created = client.create_lease(lease);
  REQUIRE(created.has_value());
  CHECK(created->resource_version == "192");
  auto sent = nlohmann::json::parse(last(server.requests()).body);
  const auto captured =
      nlohmann::json::parse(read_fixture_file("lease-create.json"))["request"]["body"];
  CHECK(sent == captured);  // the exact object the real server accepted
  CHECK(last(server.requests()).method == "POST");

  server.serve_fixture("lease-update-renew");
  created->renew_time = "2026-11-30T11:00:02.000000Z";
  auto renewed = client.update_lease(*created);
  REQUIRE(renewed.has_value());
  auto put = last(server.requests());
  CHECK(put.method == "PUT");
  CHECK(nlohmann::json::parse(put.body)["metadata"]["resourceVersion"] == "192");
  CHECK(renewed->resource_version != "192");

  server.serve_fixture("lease-update-stale-resourceversion");
  auto stale = client.update_lease(*created);
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().kind == k8s::failure_kind::conflict);
  CHECK(stale.error().verb == "update");
  CHECK(stale.error().resource == "leases.coordination.k8s.io");

  server.serve_fixture("lease-create-already-exists");
  auto raced = client.create_lease(lease);
  REQUIRE_FALSE(raced.has_value());
  CHECK(raced.error().kind == k8s::failure_kind::already_exists);
}

TEST_CASE("the observer counts every request by verb and code") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  std::mutex mu;
  std::vector<std::string> seen;
  k8s::client client(config_for(server));
  client.set_observer([&](std::string_view verb, std::string_view code) {
    std::lock_guard lock(mu);
    seen.push_back(std::string(verb) + " " + std::string(code));
  });
  CHECK(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK_FALSE(client.get(k8s::namespaces, "", "nope").has_value());
  auto config = config_for(server);
  config.port = 1;
  k8s::client refused(config);
  refused.set_observer([&](std::string_view verb, std::string_view code) {
    std::lock_guard lock(mu);
    seen.push_back(std::string(verb) + " " + std::string(code));
  });
  CHECK_FALSE(refused.remove(k8s::network_policies, "a", "b").has_value());
  // A watch that breaks after its 200 header is one request, counted once.
  canned_response garbage;
  garbage.chunks = {"not json\n"};
  server.on("GET", "/api/v1/namespaces", garbage);
  CHECK_FALSE(
      client.watch(k8s::namespaces, "", "", "", 5s, [](const k8s::watch_event&) { return true; })
          .has_value());
  CHECK(seen == std::vector<std::string>{"get 200", "get 404", "delete error", "watch 200"});
}
