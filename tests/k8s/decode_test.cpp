// Pure decoding: every captured non-success answer classified as v1.28.7 means it, object
// metadata, watch lines and garbage.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "k8s/wire.hpp"
#include "tests/support/fake_apiserver.hpp"

namespace k8s = mlnetpol::k8s;
using mlnetpol::testing::fixture_response;
using mlnetpol::testing::fixtures_dir;
using mlnetpol::testing::read_fixture_file;

namespace {

// Every non-2xx fixture and what it means (tests/fixtures/apiserver/, behaviours 8-15).
const std::map<std::string, k8s::failure_kind>& expected_kinds() {
  using k = k8s::failure_kind;
  static const std::map<std::string, k8s::failure_kind> kinds{
      {"ciliumnetworkpolicy-group-discovery-not-installed", k::crd_missing},
      {"ciliumnetworkpolicy-ssa-crd-not-installed", k::crd_missing},
      {"ciliumnetworkpolicy-ssa-invalid-oneof", k::invalid},
      {"ciliumnetworkpolicy-ssa-invalid-protocol", k::invalid},
      {"ciliumnetworkpolicy-ssa-port-as-number", k::invalid},
      {"ciliumnetworkpolicy-ssa-unknown-field", k::invalid},
      {"ciliumnetworkpolicy-ssa-unknown-field-strict", k::invalid},
      {"event-create-cluster-scoped-in-own-namespace", k::invalid},
      {"event-create-eventtime-seconds", k::invalid},
      {"event-create-note-too-long", k::invalid},
      {"event-create-series-count-one", k::invalid},
      {"event-patch-not-found", k::not_found},
      {"forbidden-impersonated-serviceaccount", k::forbidden},
      {"forbidden-impersonated-serviceaccount-list-namespaces", k::forbidden},
      {"lease-create-already-exists", k::already_exists},
      {"lease-get-not-found", k::not_found},
      {"lease-update-stale-resourceversion", k::conflict},
      {"namespace-get-not-found", k::not_found},
      {"namespace-list-too-old-resourceversion-exact", k::expired},
      {"namespace-merge-patch-not-found", k::not_found},
      {"namespace-ssa-name-mismatch", k::invalid},
      {"networkpolicy-create-already-exists", k::already_exists},
      {"networkpolicy-delete-not-found", k::not_found},
      {"networkpolicy-list-expired-continue-token", k::expired},
      {"networkpolicy-ssa-conflict-no-force", k::conflict},
      {"networkpolicy-ssa-invalid", k::invalid},
      {"networkpolicy-ssa-missing-fieldmanager", k::invalid},
      {"networkpolicy-ssa-missing-kind", k::invalid},
      {"networkpolicy-ssa-name-mismatch", k::invalid},
      {"networkpolicy-ssa-namespace-not-found", k::not_found},
      {"networkpolicy-ssa-namespace-terminating", k::namespace_terminating},
      {"networkpolicy-ssa-unknown-field", k::invalid},
      {"networkpolicy-ssa-unknown-field-strict", k::invalid},
      {"networkpolicy-update-stale-resourceversion", k::conflict},
      {"unauthenticated-anonymous", k::forbidden},
      {"unauthorized-bad-bearer-token", k::unauthorized},
  };
  return kinds;
}

std::string header(const mlnetpol::testing::canned_response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name) return v;
  }
  return {};
}

}  // namespace

TEST_CASE("every captured non-success answer is classified, and every capture is covered") {
  int non_success = 0;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures_dir())) {
    if (entry.path().extension() != ".json") continue;
    const std::string name = entry.path().stem().string();
    const auto r = fixture_response(name);
    if (r.status >= 200 && r.status < 300) continue;
    ++non_success;
    CAPTURE(name);
    const auto it = expected_kinds().find(name);
    REQUIRE_MESSAGE(it != expected_kinds().end(), "a fixture without an expected kind");
    const auto e = k8s::classify_response(r.status, header(r, "content-type"), r.body,
                                          header(r, "retry-after"));
    CHECK(k8s::to_string(e.kind) == k8s::to_string(it->second));
    CHECK(e.status == r.status);
    CHECK_FALSE(e.message.empty());
    if (e.kind == k8s::failure_kind::invalid) CHECK_FALSE(e.causes.empty());
    const bool retryable =
        e.kind == k8s::failure_kind::throttled || e.kind == k8s::failure_kind::server_error;
    CHECK(e.retryable() == retryable);
  }
  CHECK(non_success == static_cast<int>(expected_kinds().size()));
}

TEST_CASE("422 keeps every cause with its field; the 500 typed-patch error is not retryable") {
  const auto invalid = fixture_response("networkpolicy-ssa-invalid");
  const auto e = k8s::classify_response(422, "application/json", invalid.body, "");
  REQUIRE(e.causes.size() == 4);
  CHECK(e.causes[1] ==
        "spec.egress[0].ports[0].port: Invalid value: 70000: must be between 1 "
        "and 65535, inclusive");
  const auto oneof = fixture_response("ciliumnetworkpolicy-ssa-invalid-oneof");
  const auto o = k8s::classify_response(422, "application/json", oneof.body, "");
  REQUIRE(o.causes.size() == 1);
  CHECK(o.causes[0].rfind("Invalid value", 0) == 0);  // "<nil>" field dropped
  const auto typed = fixture_response("ciliumnetworkpolicy-ssa-port-as-number");
  const auto t = k8s::classify_response(500, "application/json", typed.body, "");
  CHECK(t.kind == k8s::failure_kind::invalid);
  CHECK_FALSE(t.retryable());
  CHECK(t.causes.at(0).find("expected string") != std::string::npos);
}

TEST_CASE("410 on a continue token carries the fresh token") {
  const auto r = fixture_response("networkpolicy-list-expired-continue-token");
  const auto e = k8s::classify_response(410, "application/json", r.body, "");
  CHECK(e.kind == k8s::failure_kind::expired);
  CHECK(e.continue_token ==
        "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoibWwtdHJhaW5pbmcvYWxsb3ctZG5zXHUwMDAwIn"
        "0");
}

TEST_CASE("429 and 5xx: retryable with Retry-After from the header or the Status details") {
  const std::string too_many =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429})";
  auto e = k8s::classify_response(429, "application/json", too_many, "3");
  CHECK(e.kind == k8s::failure_kind::throttled);
  CHECK(e.retry_after == std::chrono::seconds(3));
  CHECK(e.retryable());
  e = k8s::classify_response(429, "application/json", too_many, "");
  CHECK(e.retry_after == std::chrono::seconds(1));
  e = k8s::classify_response(503, "text/html", "<html>bad gateway</html>", "junk");
  CHECK(e.kind == k8s::failure_kind::server_error);
  CHECK(e.retry_after == std::chrono::seconds(0));
  CHECK(e.message == "<html>bad gateway</html>");
  e = k8s::classify_response(504, "application/json", "{not json", "99999999");
  CHECK(e.kind == k8s::failure_kind::server_error);
  CHECK(e.retry_after == std::chrono::seconds(3600));  // bounded
  // A plain 404 is a missing group only because it is not a Status: a JSON Status 404 is not.
  CHECK(k8s::classify_response(404, "application/json", "garbage", "").kind ==
        k8s::failure_kind::crd_missing);
}

TEST_CASE("object metadata from a fixture: labels, annotations, deletion") {
  const auto ns = fixture_response("namespace-get-terminating");
  auto meta = k8s::decode_object_meta(ns.body);
  REQUIRE(meta.has_value());
  CHECK(meta->kind == "Namespace");
  CHECK(meta->api_version == "v1");
  CHECK(meta->name == "gone-ns");
  CHECK(meta->deleting);
  CHECK_FALSE(meta->resource_version.empty());
  const auto np = fixture_response("networkpolicy-ssa-update-changed");
  meta = k8s::decode_object_meta(np.body);
  REQUIRE(meta.has_value());
  CHECK(meta->namespace_name == "ml-training");
  CHECK(meta->labels.at("app.kubernetes.io/managed-by") == "mlnetpol");
  CHECK_FALSE(meta->annotations.empty());
  CHECK_FALSE(meta->deleting);
}

TEST_CASE("watch lines: the captured streams, the 410 ERROR event and a bookmark") {
  const std::string stream = read_fixture_file("namespace-watch-from-resourceversion.ndjson");
  std::vector<k8s::watch_event> events;
  std::size_t start = 0;
  while (start < stream.size()) {
    auto end = stream.find('\n', start);
    if (end == std::string::npos) end = stream.size();
    auto e = k8s::decode_watch_event(std::string_view(stream).substr(start, end - start));
    REQUIRE(e.has_value());
    events.push_back(*e);
    start = end + 1;
  }
  REQUIRE(events.size() == 3);
  CHECK(events[0].event_type == k8s::watch_event::type::added);
  CHECK(events[1].event_type == k8s::watch_event::type::modified);
  CHECK(events[1].object.labels.at("workload-type") == "inference");
  CHECK(events[2].object.deleting);

  auto gone =
      k8s::decode_watch_event(read_fixture_file("namespace-watch-too-old-resourceversion.ndjson"));
  REQUIRE(gone.has_value());
  CHECK(gone->event_type == k8s::watch_event::type::error);
  CHECK(gone->error_code == 410);
  CHECK(gone->error_message == "too old resource version: 100 (258)");

  // The shape kube-apiserver sends for bookmarks (no capture: none came within 8 s).
  auto bookmark = k8s::decode_watch_event(
      R"({"type":"BOOKMARK","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"resourceVersion":"12746","creationTimestamp":null}}})");
  REQUIRE(bookmark.has_value());
  CHECK(bookmark->event_type == k8s::watch_event::type::bookmark);
  CHECK(bookmark->object.resource_version == "12746");
  CHECK(bookmark->object.name.empty());
}

TEST_CASE("garbage never decodes and never crashes") {
  const std::string deep_array(100000, '[');
  const std::string deep_object = [] {
    std::string s;
    for (int i = 0; i < 50000; ++i) s += "{\"a\":";
    return s;
  }();
  for (const std::string& text :
       {std::string(), std::string("null"), std::string("[]"), std::string("{}"),
        std::string("{\"type\":\"ADDED\"}"), std::string("{\"type\":\"ADDED\",\"object\":[]}"),
        std::string("{\"type\":\"NOPE\",\"object\":{\"metadata\":{}}}"),
        std::string("{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}} trailing"),
        std::string("{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}\0x", 43),
        std::string("\xff\xfe{}"), deep_array, deep_object,
        std::string("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"labels\":{\"a\":1}}}")}) {
    CAPTURE(text.substr(0, 60));
    CHECK_FALSE(k8s::decode_watch_event(text).has_value());
  }
  CHECK_FALSE(k8s::decode_object_meta(deep_array).has_value());
  CHECK_FALSE(k8s::decode_object_meta("{\"metadata\":7}").has_value());
  // Non-string label values are skipped, not fatal.
  auto meta = k8s::decode_object_meta(R"({"metadata":{"name":"x","labels":{"a":1,"b":"c"}}})");
  REQUIRE(meta.has_value());
  CHECK(meta->labels.size() == 1);
}

TEST_CASE("lists decode with their continue token; items get the list's kind") {
  const auto page = k8s::wire::decode_list(
      k8s::network_policies,
      fixture_response("networkpolicy-list-all-namespaces-managed-by-mlnetpol").body);
  REQUIRE(page.has_value());
  CHECK(page->items.size() == 1);
  CHECK_FALSE(page->continue_token.empty());
  CHECK_FALSE(page->resource_version.empty());
  CHECK(page->items[0].kind == "NetworkPolicy");
  CHECK(page->items[0].api_version == "networking.k8s.io/v1");
}

TEST_CASE("leases: MicroTime has 6 fractional digits; the body round-trips") {
  using namespace std::chrono;
  const auto t = sys_days{year{2026} / 11 / 30} + hours(11) + microseconds(1500);
  CHECK(k8s::format_micro_time(t) == "2026-11-30T11:00:00.001500Z");
  auto lease = k8s::wire::decode_lease(fixture_response("lease-get").body);
  REQUIRE(lease.has_value());
  CHECK(lease->holder_identity == "mlnetpol-7d9c-abcde");
  CHECK(lease->lease_duration_seconds == 15);
  CHECK_FALSE(lease->resource_version.empty());
  const auto body = nlohmann::json::parse(k8s::wire::encode_lease(*lease));
  CHECK(body["kind"] == "Lease");
  CHECK(body["metadata"]["resourceVersion"] == lease->resource_version);
  CHECK(body["spec"]["renewTime"] == lease->renew_time);
  CHECK(body["spec"]["leaseDurationSeconds"] == 15);
}

TEST_CASE("query values and path segments are percent-encoded") {
  CHECK(k8s::wire::url_encode("app.kubernetes.io/managed-by=mlnetpol") ==
        "app.kubernetes.io%2Fmanaged-by%3Dmlnetpol");
  CHECK(k8s::wire::url_encode("a b&c?d#~_") == "a%20b%26c%3Fd%23~_");
}

TEST_CASE("mutated captures: truncations and byte flips never crash the decoders") {
  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures_dir())) {
    if (entry.path().extension() == ".ndjson")
      seeds.push_back(read_fixture_file(entry.path().filename().string()));
  }
  seeds.push_back(fixture_response("namespace-list").body);
  seeds.push_back(fixture_response("networkpolicy-ssa-invalid").body);
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  int decoded = 0;
  for (const auto& seed : seeds) {
    for (int round = 0; round < 200; ++round) {
      std::string text = seed.substr(0, seed.find('\n'));
      if (text.empty()) continue;
      const auto flips = next() % 4;
      for (std::uint32_t i = 0; i < flips; ++i)
        text[next() % text.size()] = static_cast<char>(next());
      if (next() % 3 == 0) text.resize(next() % text.size());
      if (k8s::decode_watch_event(text).has_value()) ++decoded;
      (void)k8s::decode_object_meta(text);
      (void)k8s::classify_response(400 + next() % 200, "application/json", text, text);
      (void)k8s::wire::decode_list(k8s::namespaces, text);
      (void)k8s::wire::decode_lease(text);
      (void)k8s::parse_kubeconfig(text, "/nonexistent");
    }
  }
  CHECK(decoded > 0);  // some mutations stay valid JSON (flips inside strings)
}

TEST_CASE("spec managers: managedFields entries owning fields under spec, as captured") {
  // Captured: allow-dns written by our apply alone; default-deny-ingress then also patched by
  // another field manager ("someone-else"), which took fields of its spec.
  const auto page = k8s::wire::decode_list(
      k8s::network_policies, fixture_response("networkpolicy-list-managed-by-mlnetpol").body);
  REQUIRE(page.has_value());
  std::map<std::string, std::vector<std::string>> managers;
  for (const auto& item : page->items) {
    for (const auto& w : item.spec_managers)
      managers[item.name].push_back(w.manager + " " + w.operation);
  }
  CHECK(managers.at("allow-dns") == std::vector<std::string>{"mlnetpol Apply"});
  CHECK(managers.at("default-deny-ingress") ==
        std::vector<std::string>{"mlnetpol Apply", "someone-else Update"});
  // The spec itself, compact, and nothing but the usual top-level fields.
  for (const auto& item : page->items) {
    CHECK(item.spec.starts_with("{"));
    CHECK(item.spec.find("\"podSelector\"") != std::string::npos);
    CHECK_FALSE(item.extra_fields);
  }
  // An entry that owns only metadata (kubectl label) is not a spec manager.
  const auto meta = k8s::decode_object_meta(
      R"({"metadata":{"name":"x","managedFields":[{"manager":"kubectl-label","fieldsV1":)"
      R"({"f:metadata":{"f:labels":{}}}},{"manager":7},"junk"]}})");
  REQUIRE(meta.has_value());
  CHECK(meta->spec_managers.empty());
  CHECK(meta->spec.empty());
}

TEST_CASE("object spec: compact text of spec; a top-level field never rendered is flagged") {
  const auto cnp = k8s::decode_object_meta(
      R"({"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"x"},)"
      R"( "spec": {"endpointSelector": {}, "egress": [ {} ]},)"
      R"("specs":[{"endpointSelector":{},"egress":[{"toEntities":["world"]}]}]})");
  REQUIRE(cnp.has_value());
  CHECK(cnp->spec == R"({"endpointSelector":{},"egress":[{}]})");
  CHECK(cnp->extra_fields);
  // The specs list, for the tenant-policy guardrails of the policy reports.
  CHECK(cnp->specs == R"([{"endpointSelector":{},"egress":[{"toEntities":["world"]}]}])");
  const auto np = k8s::decode_object_meta(
      R"({"apiVersion":"v1","kind":"NetworkPolicy","metadata":{"name":"x"},"spec":{},)"
      R"("status":{}})");
  REQUIRE(np.has_value());
  CHECK(np->spec == "{}");
  CHECK_FALSE(np->extra_fields);
  CHECK(np->specs.empty());
}

TEST_CASE("discovery: an APIResourceList's resource names, anything else refused") {
  // As kube-apiserver v1.28.7 answers GET /apis/admissionregistration.k8s.io/v1beta1 (trimmed).
  const auto names = k8s::wire::decode_resource_names(
      R"({"kind":"APIResourceList","apiVersion":"v1","groupVersion":"admissionregistration.k8s.io/v1beta1",)"
      R"("resources":[{"name":"validatingadmissionpolicies","namespaced":false,"kind":"ValidatingAdmissionPolicy"},)"
      R"({"name":"validatingadmissionpolicies/status","namespaced":false,"kind":"ValidatingAdmissionPolicy"},)"
      R"({"name":"validatingadmissionpolicybindings","namespaced":false,"kind":"ValidatingAdmissionPolicyBinding"}]})");
  REQUIRE(names.has_value());
  CHECK(*names == std::vector<std::string>{"validatingadmissionpolicies",
                                           "validatingadmissionpolicies/status",
                                           "validatingadmissionpolicybindings"});
  const auto none = k8s::wire::decode_resource_names(R"({"kind":"APIResourceList"})");
  REQUIRE(none.has_value());
  CHECK(none->empty());
  CHECK_FALSE(k8s::wire::decode_resource_names(R"({"kind":"APIGroup","versions":[]})").has_value());
  CHECK_FALSE(k8s::wire::decode_resource_names("not json").has_value());
}
