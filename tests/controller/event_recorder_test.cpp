// The event recorder: its wire format pinned to what the real kube-apiserver v1.28.7 accepted
// (tests/fixtures/apiserver/event-*.json), over the wire against the fake API server, and its
// queue and limits against an in-memory sink.
#include "controller/event_recorder.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/controller/memory_event_sink.hpp"
#include "tests/support/captured_log.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/fake_apiserver.hpp"
#include "tests/support/fake_apiserver_config.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using mlnetpol::controller::testing::memory_sink;
using mlnetpol::testing::config_for;
using mlnetpol::testing::eventually;
using mlnetpol::testing::fake_apiserver;
using mlnetpol::testing::fixture_response;
using nlohmann::json;

namespace {

json fixture(const std::string& name) {
  return json::parse(mlnetpol::testing::read_fixture_file(name + ".json"));
}

// 2026-11-30T15:40:00.123456Z, the eventTime of the captured requests.
std::chrono::system_clock::time_point capture_time() {
  using namespace std::chrono;
  return sys_days{year{2026} / 11 / 30} + 15h + 40min + 123456us;
}

event_record trainer_denial() {
  return *denial_event("", "v1", "Pod", "training", "trainer",
                       "hostNetwork is not allowed in namespace training");
}

event_recorder_options quick() {
  event_recorder_options o;
  o.reporting_instance = "mlnetpol-7d9c-abcde";
  o.tick = 20ms;
  return o;
}

}  // namespace

TEST_CASE("encode_event: the very body the real API server created (201)") {
  const json captured = fixture("event-create");
  REQUIRE(captured["response"]["status"] == 201);
  const std::string body = encode_event(trainer_denial(), "trainer.187c2a9e5b3f0a10",
                                        "mlnetpol-7d9c-abcde", capture_time());
  CHECK(json::parse(body) == captured["request"]["body"]);
  // eventTime in MicroTime: the API server refuses seconds precision (400).
  CHECK(json::parse(body)["eventTime"] == "2026-11-30T15:40:00.123456Z");
  CHECK(fixture("event-create-eventtime-seconds")["response"]["status"] == 400);
  // The answer decodes as the object written.
  CHECK(captured["response"]["body"]["metadata"]["name"] == "trainer.187c2a9e5b3f0a10");
}

TEST_CASE("encode_event: a cluster-scoped object's event lives in default, as the API requires") {
  const auto ns = *denial_event("", "v1", "Pod", "training", "",
                                "hostNetwork is not allowed in "
                                "namespace training");
  CHECK(event_namespace(ns.regarding) == "default");
  const json accepted = fixture("event-create-cluster-scoped-in-default");
  REQUIRE(accepted["response"]["status"] == 201);
  CHECK(json::parse(encode_event(ns, "training.187c2a9e5b3f0a15", "mlnetpol-7d9c-abcde",
                                 capture_time())) == accepted["request"]["body"]);
  // In its own namespace, the same event is refused (422).
  CHECK(fixture("event-create-cluster-scoped-in-own-namespace")["response"]["status"] == 422);
  CHECK(event_namespace(trainer_denial().regarding) == "training");
}

TEST_CASE("encode_event: series only from a count of 2 (the API refuses 1), and the patch") {
  CHECK(fixture("event-create-series-count-one")["response"]["status"] == 422);
  const auto r = trainer_denial();
  const auto t = capture_time();
  CHECK_FALSE(json::parse(encode_event(r, "n.1", "i", t, event_series{1, t})).contains("series"));
  const json with = json::parse(encode_event(r, "n.1", "i", t, event_series{7, t + 1s}));
  CHECK(with["series"]["count"] == 7);
  CHECK(with["series"]["lastObservedTime"] == "2026-11-30T15:40:01.123456Z");
  const json patched = fixture("event-patch-series");
  REQUIRE(patched["response"]["status"] == 200);
  CHECK(json::parse(encode_series_patch({1000, t + 1s + 530865us})) == patched["request"]["body"]);
  CHECK(patched["response"]["body"]["series"]["count"] == 1000);
  // The note is cut to the API's limit before it is encoded (1025 bytes: 422).
  CHECK(fixture("event-create-note-too-long")["response"]["status"] == 422);
}

TEST_CASE("event_name: a DNS subdomain of at most 253 characters, unique per call") {
  CHECK(event_name("trainer", 0x187c2a9e5b3f0a10) == "trainer.187c2a9e5b3f0a10");
  const std::string long_name(253, 'a');
  const std::string cut = event_name(long_name, 1);
  CHECK(cut.size() == 253);
  CHECK(cut.ends_with(".0000000000000001"));
  CHECK(event_name("UPPER.Case", 2) == "upper.case.0000000000000002");
  CHECK(event_name("system:admin", 3) == "mlnetpol.0000000000000003");
  CHECK(event_name("", 4) == "mlnetpol.0000000000000004");
  CHECK(event_name(std::string(236, 'a') + "-b", 5).size() <= 253);
  CHECK(event_name(std::string(235, 'a') + "-b", 5) == std::string(235, 'a') + ".0000000000000005");
}

TEST_CASE("recorder over the wire: one POST, repeats counted, one series PATCH at stop") {
  fake_apiserver server;
  server.on("POST", "/apis/events.k8s.io/v1/namespaces/training/events",
            fixture_response("event-create"));
  auto client = std::make_unique<k8s::client>(config_for(server));
  event_recorder recorder(make_client_event_sink(std::move(client)), quick());
  recorder.start();
  for (int i = 0; i < 5; ++i) CHECK(recorder.record(trainer_denial()));
  REQUIRE(eventually(
      [&] { return recorder.idle() && recorder.count(event_recorder::result::sent) == 1; }));
  CHECK(recorder.count(event_recorder::result::aggregated) == 4);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const auto& post = requests[0];
  CHECK(post.method == "POST");
  CHECK(post.path == "/apis/events.k8s.io/v1/namespaces/training/events");
  CHECK(post.query == "fieldManager=mlnetpol");
  CHECK(post.headers.at("content-type") == "application/json");
  const json body = json::parse(post.body);
  CHECK(body["apiVersion"] == "events.k8s.io/v1");
  CHECK(body["kind"] == "Event");
  CHECK(body["metadata"]["namespace"] == "training");
  CHECK(body["reportingController"] == "mlnetpol.io/webhook");
  CHECK(body["reportingInstance"] == "mlnetpol-7d9c-abcde");
  CHECK(body["type"] == "Warning");
  CHECK(body["reason"] == "WorkloadDenied");
  CHECK(body["action"] == "Deny");
  CHECK(
      body["regarding"] ==
      json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"namespace", "training"}, {"name", "trainer"}});
  CHECK(body["eventTime"].get<std::string>().size() == 27);  // ....000000Z
  CHECK_FALSE(body.contains("series"));
  const std::string name = body["metadata"]["name"];
  CHECK(name.starts_with("trainer."));

  // Stop writes the count the API server does not have yet.
  server.on("PATCH", "/apis/events.k8s.io/v1/namespaces/training/events/" + name,
            fixture_response("event-patch-series"));
  recorder.stop();
  requests = server.requests();
  REQUIRE(requests.size() == 2);
  const auto& patch = requests[1];
  CHECK(patch.method == "PATCH");
  CHECK(patch.query == "fieldManager=mlnetpol");
  CHECK(patch.headers.at("content-type") == "application/merge-patch+json");
  const json series = json::parse(patch.body);
  CHECK(series["series"]["count"] == 5);
  CHECK(series.size() == 1);
  CHECK(recorder.count(event_recorder::result::sent) == 2);
  CHECK(recorder.count(event_recorder::result::failed) == 0);
}

TEST_CASE("recorder over the wire: a refused write is counted failed and the next one goes") {
  fake_apiserver server;
  server.on("POST", "/apis/events.k8s.io/v1/namespaces/training/events",
            fixture_response("event-create-note-too-long"));
  auto client = std::make_unique<k8s::client>(config_for(server));
  event_recorder recorder(make_client_event_sink(std::move(client)), quick());
  recorder.start();
  recorder.record(trainer_denial());
  REQUIRE(eventually([&] { return recorder.count(event_recorder::result::failed) == 1; }));
  // The failed create left no series behind: the same event is tried again, not aggregated.
  recorder.record(trainer_denial());
  REQUIRE(eventually([&] { return recorder.count(event_recorder::result::failed) == 2; }));
  CHECK(recorder.count(event_recorder::result::aggregated) == 0);
  recorder.stop();
}

TEST_CASE("recorder: a full queue drops and counts; record() never waits for the API server") {
  auto owned = std::make_unique<memory_sink>();
  memory_sink& sink = *owned;
  sink.hold();
  auto options = quick();
  options.queue_capacity = 2;
  options.stop_grace = 200ms;
  event_recorder recorder(std::move(owned), options);
  recorder.start();
  CHECK(recorder.record(*denial_event("", "v1", "Pod", "ns", "a", "x")));
  REQUIRE(sink.wait_entered(1));  // the worker is stuck in its create
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(recorder.record(*denial_event("", "v1", "Pod", "ns", "b", "x")));
  CHECK(recorder.record(*denial_event("", "v1", "Pod", "ns", "c", "x")));
  CHECK_FALSE(recorder.record(*denial_event("", "v1", "Pod", "ns", "d", "x")));
  CHECK_FALSE(recorder.record(*denial_event("", "v1", "Pod", "ns", "e", "x")));
  CHECK(std::chrono::steady_clock::now() - t0 < 100ms);
  CHECK(recorder.count(event_recorder::result::dropped) == 2);
  // A hung API server does not hold shutdown beyond the grace: its calls are cancelled.
  const auto s0 = std::chrono::steady_clock::now();
  recorder.stop();
  CHECK(std::chrono::steady_clock::now() - s0 < 2s);
  CHECK(recorder.count(event_recorder::result::failed) >= 1);
  CHECK_FALSE(recorder.record(*denial_event("", "v1", "Pod", "ns", "f", "x")));  // stopped
}

TEST_CASE("recorder: 1000 denials make a bounded number of writes") {
  auto owned = std::make_unique<memory_sink>();
  memory_sink& sink = *owned;
  auto options = quick();
  options.queue_capacity = 2000;
  event_recorder recorder(std::move(owned), options);
  // Queued before start, so they are handled in one burst.
  for (int i = 0; i < 500; ++i) recorder.record(trainer_denial());
  for (int i = 0; i < 500; ++i)
    recorder.record(*denial_event("", "v1", "Pod", "training", "pod-" + std::to_string(i), "x"));
  recorder.start();
  REQUIRE(eventually([&] { return recorder.idle(); }));
  recorder.stop();
  using result = event_recorder::result;
  std::size_t creates = 0, patches = 0;
  for (const auto& c : sink.calls()) ++(c.verb == "create" ? creates : patches);
  MESSAGE("creates: " << creates << ", patches: " << patches);
  // One create for the 500 repeats; all in one namespace, so its burst (20) bounds the creates
  // (the rest of the global burst, 50, is left for other namespaces).
  CHECK(creates <= 20 + 1);  // + a token refilled meanwhile
  CHECK(creates >= 20);
  CHECK(patches <= 1);  // the repeats' count, if a token is left at stop
  CHECK(recorder.count(result::sent) == creates + patches);
  CHECK(recorder.count(result::aggregated) == 499);
  // Every occurrence is accounted for exactly once.
  CHECK(creates + recorder.count(result::aggregated) + recorder.count(result::rate_limited) ==
        1000);
  CHECK(recorder.count(result::dropped) == 0);
}

TEST_CASE("recorder: a series whose event is gone (TTL) goes on in a new event") {
  auto owned = std::make_unique<memory_sink>();
  memory_sink& sink = *owned;
  sink.set_patch_gone(true);
  event_recorder recorder(std::move(owned), quick());
  recorder.start();
  for (int i = 0; i < 3; ++i) recorder.record(trainer_denial());
  REQUIRE(eventually([&] { return recorder.idle(); }));
  recorder.stop();
  const auto calls = sink.calls();
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].verb == "create");
  CHECK(calls[1].verb == "patch");
  CHECK(calls[2].verb == "create");
  const json again = json::parse(calls[2].body);
  CHECK(again["series"]["count"] == 3);
  CHECK(again["metadata"]["name"] != json::parse(calls[0].body)["metadata"]["name"]);
  CHECK(recorder.count(event_recorder::result::sent) == 2);
  CHECK(recorder.count(event_recorder::result::failed) == 0);
}

TEST_CASE("recorder: metrics, one series per result from a closed set") {
  event_recorder recorder(std::make_unique<memory_sink>(), quick());
  recorder.record(trainer_denial());
  std::string out;
  recorder.render_metrics(out);
  CHECK(out.find("# TYPE mlnetpol_events_total counter\n") != std::string::npos);
  for (const char* r : {"sent", "aggregated", "rate_limited", "dropped", "failed"})
    CHECK(out.find(std::string("mlnetpol_events_total{result=\"") + r + "\"} 0\n") !=
          std::string::npos);
}

TEST_CASE("recorder over the wire: a namespace going away is no error; a missing grant said once") {
  fake_apiserver server;
  server.on("POST", "/apis/events.k8s.io/v1/namespaces/training/events",
            fixture_response("networkpolicy-ssa-namespace-terminating"));
  server.on("POST", "/apis/events.k8s.io/v1/namespaces/locked/events",
            fixture_response("forbidden-impersonated-serviceaccount"));
  mlnetpol::testing::captured_log log;
  auto client = std::make_unique<k8s::client>(config_for(server));
  event_recorder recorder(make_client_event_sink(std::move(client)), quick());
  recorder.start();
  recorder.record(trainer_denial());
  REQUIRE(eventually([&] { return recorder.count(event_recorder::result::failed) == 1; }));
  recorder.record(*denial_event("", "v1", "Pod", "locked", "a", "x"));
  recorder.record(*denial_event("", "v1", "Pod", "locked", "b", "x"));
  REQUIRE(eventually([&] { return recorder.count(event_recorder::result::failed) == 3; }));
  recorder.stop();
  const std::string lines = log.text();
  CHECK(lines.find("debug \"msg\":\"event not written\"") != std::string::npos);
  // The terminating namespace's 403 is not RBAC: the one error line is the locked namespace's.
  const auto first = lines.find("error \"msg\":\"RBAC must grant this\"");
  REQUIRE(first != std::string::npos);
  CHECK(lines.find("\"resource\":\"events.events.k8s.io\"", first) != std::string::npos);
  CHECK(lines.find("error ", first + 1) == std::string::npos);  // one line per change
}
