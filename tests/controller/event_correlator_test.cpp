#include "controller/event_correlator.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace std::chrono_literals;
using namespace mlnetpol::controller;
using verdict = event_correlator::verdict;

namespace {

using steady = std::chrono::steady_clock;
using wall = std::chrono::system_clock;

const steady::time_point t0{std::chrono::hours(1000)};
const wall::time_point w0{std::chrono::hours(500'000)};

event_record denial(const std::string& pod, const std::string& note = "hostNetwork is refused") {
  return *denial_event("", "v1", "Pod", "training", pod, note);
}

// Observes r at time t; a create is acknowledged as written (the API server took it).
verdict see(event_correlator& c, const event_record& r, steady::time_point t,
            const std::string& name = "ev") {
  std::string key;
  const verdict v = c.observe(r, t, w0 + (t - t0), key);
  if (v == verdict::create) c.created(key, "training", name, t);
  return v;
}

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST_CASE("truncate_note: at most the API's 1024 bytes, never splitting a UTF-8 character") {
  CHECK(truncate_note("short") == "short");
  const std::string exact(1024, 'a');
  CHECK(truncate_note(exact) == exact);
  const std::string ascii = truncate_note(std::string(5000, 'a'));
  CHECK(ascii.size() == 1024);
  CHECK(ascii.ends_with("..."));
  std::string accents;
  for (int i = 0; i < 700; ++i) accents += "\xc3\xa9";  // é, two bytes each
  const std::string cut = truncate_note(accents);
  CHECK(cut.size() <= 1024);
  CHECK(cut.ends_with("..."));
  CHECK(valid_utf8(cut));
  // 1021 is odd: the cut backs up to the start of the character it would split.
  CHECK(cut.size() == 1020 + 3);
}

TEST_CASE("denial_event: regarding the named object, else its namespace") {
  auto pod = denial_event("", "v1", "Pod", "training", "trainer", "refused");
  REQUIRE(pod);
  CHECK(pod->regarding.api_version == "v1");
  CHECK(pod->regarding.kind == "Pod");
  CHECK(pod->regarding.namespace_name == "training");
  CHECK(pod->regarding.name == "trainer");
  CHECK(pod->type == event_type::warning);
  CHECK(pod->reason == "WorkloadDenied");
  CHECK(pod->reporting_controller == "mlnetpol.io/webhook");
  CHECK(pod->note == "refused");

  auto deployment = denial_event("apps", "v1", "Deployment", "serving", "web", "refused");
  REQUIRE(deployment);
  CHECK(deployment->regarding.api_version == "apps/v1");

  // generateName: no name yet, so the namespace is what the event is about.
  auto generated = denial_event("", "v1", "Pod", "training", "", "refused");
  REQUIRE(generated);
  CHECK(generated->regarding.kind == "Namespace");
  CHECK(generated->regarding.name == "training");
  CHECK(generated->regarding.namespace_name.empty());

  // A Namespace request carries its own name as namespace; the object is cluster-scoped.
  auto ns = denial_event("", "v1", "Namespace", "team-a", "team-a", "refused");
  REQUIRE(ns);
  CHECK(ns->regarding.namespace_name.empty());
  CHECK(ns->regarding.name == "team-a");

  CHECK_FALSE(denial_event("", "v1", "Namespace", "", "", "refused"));
  CHECK(denial_event("", "v1", "Pod", "a", "b", std::string(4000, 'x'))->note.size() == 1024);
}

TEST_CASE("policy set events: Normal applied, Warning failed, regarding the Namespace") {
  const auto ok = policy_set_applied("argocd", "applied");
  CHECK(ok.type == event_type::normal);
  CHECK(ok.reason == "PolicySetApplied");
  CHECK(ok.reporting_controller == "mlnetpol.io/reconciler");
  CHECK(ok.regarding.kind == "Namespace");
  CHECK(ok.regarding.name == "argocd");
  const auto bad = policy_set_failed("argocd", "forbidden");
  CHECK(bad.type == event_type::warning);
  CHECK(bad.reason == "PolicySetFailed");
  CHECK(to_string(bad.type) == "Warning");
}

TEST_CASE("correlator: repeats aggregate into one event's series, written once per interval") {
  event_limits limits;
  limits.series_interval = 30s;
  event_correlator c(limits);
  const auto r = denial("trainer");
  CHECK(see(c, r, t0) == verdict::create);
  for (int i = 1; i < 1000; ++i) CHECK(see(c, r, t0 + i * 1ms) == verdict::aggregated);
  // Nothing before the interval; then the whole count in one patch.
  CHECK(c.due(t0 + 10s).empty());
  auto due = c.due(t0 + 31s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].count == 1000);
  CHECK(due[0].name == "ev");
  CHECK(due[0].namespace_name == "training");
  CHECK(due[0].last_observed == w0 + 999ms);
  c.written(due[0].key, due[0].name, due[0].count, t0 + 31s);
  CHECK(c.due(t0 + 70s).empty());  // nothing new
  CHECK(see(c, r, t0 + 75s) == verdict::aggregated);
  CHECK(c.due(t0 + 76s).size() == 1);
  CHECK(see(c, r, t0 + 77s) == verdict::aggregated);
  // The interval counts from the last write.
  c.written(due[0].key, due[0].name, 1001, t0 + 80s);
  CHECK(c.due(t0 + 100s).empty());
  due = c.due(t0 + 110s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].count == 1002);
  // At shutdown every pending count goes, interval or not.
  c.written(due[0].key, due[0].name, due[0].count, t0 + 110s);
  CHECK(see(c, r, t0 + 111s) == verdict::aggregated);
  CHECK(c.due(t0 + 112s).empty());
  CHECK(c.due(t0 + 112s, /*all=*/true).size() == 1);
}

TEST_CASE("correlator: another note or object is another event; a repeat after the window too") {
  event_limits limits;
  limits.series_window = 6min;
  event_correlator c(limits);
  CHECK(see(c, denial("a"), t0) == verdict::create);
  CHECK(see(c, denial("a", "another reason"), t0) == verdict::create);
  CHECK(see(c, denial("b"), t0) == verdict::create);
  CHECK(see(c, denial("a"), t0 + 5min) == verdict::aggregated);
  CHECK(see(c, denial("a"), t0 + 5min + 6min + 1s) == verdict::create);
}

TEST_CASE("correlator: a token bucket per (object, reason) limits distinct events about it") {
  event_limits limits;
  limits.object_burst = 3;
  limits.object_refill = 5min;
  limits.global_burst = 100;
  event_correlator c(limits);
  for (int i = 0; i < 3; ++i)
    CHECK(see(c, denial("a", "note " + std::to_string(i)), t0) == verdict::create);
  CHECK(see(c, denial("a", "note 3"), t0) == verdict::rate_limited);
  CHECK(see(c, denial("a", "note 4"), t0 + 4min) == verdict::rate_limited);
  // Another object has its own bucket.
  CHECK(see(c, denial("b", "note 3"), t0 + 4min) == verdict::create);
  // One token back after the refill interval, one only.
  CHECK(see(c, denial("a", "note 5"), t0 + 5min) == verdict::create);
  CHECK(see(c, denial("a", "note 6"), t0 + 5min) == verdict::rate_limited);
  // Repeats of an event already written take no token.
  CHECK(see(c, denial("a", "note 0"), t0 + 5min) == verdict::aggregated);
}

TEST_CASE("correlator: a flood of distinct denials is bounded by the global bucket") {
  event_limits limits;
  limits.global_burst = 50;
  limits.global_refill = 1s;
  limits.namespace_burst = 1e9;  // the global bucket alone
  event_correlator c(limits);
  int creates = 0;
  for (int i = 0; i < 1000; ++i)
    if (see(c, denial("pod-" + std::to_string(i)), t0 + i * 1ms) == verdict::create) ++creates;
  CHECK(creates == 50);  // the burst; under a second of refill
  // Refilled at one a second.
  creates = 0;
  for (int i = 0; i < 100; ++i)
    if (see(c, denial("later-" + std::to_string(i)), t0 + 11s) == verdict::create) ++creates;
  CHECK(creates == 11);  // 50 + 11 s of refill - 50
  // Series patches take global tokens too: none left now, so they wait.
  CHECK(see(c, denial("pod-0"), t0 + 11s) == verdict::aggregated);
  CHECK(c.due(t0 + 11s, true).empty());
  CHECK(c.due(t0 + 12s, true).size() == 1);
}

TEST_CASE("concerned_namespace: the object's, a Namespace's own name, else none") {
  CHECK(concerned_namespace({"v1", "Pod", "training", "p"}) == "training");
  CHECK(concerned_namespace({"v1", "Namespace", "", "training"}) == "training");
  CHECK(concerned_namespace({"rbac.authorization.k8s.io/v1", "ClusterRole", "", "r"}).empty());
}

TEST_CASE("correlator: one namespace's flood of forged denials does not silence another's") {
  event_correlator c;  // the shipped limits
  int flood_creates = 0;
  // 300 denials of made-up pods in one namespace, as forged reviews can cause.
  for (int i = 0; i < 300; ++i) {
    if (see(c, *denial_event("", "v1", "Pod", "tenant-a", "made-up-" + std::to_string(i), "x"),
            t0 + i * 1ms) == verdict::create) {
      ++flood_creates;
    }
  }
  CHECK(flood_creates == 20);  // the namespace's burst, not the global one (50)
  // A real denial elsewhere still gets its Event at once...
  CHECK(see(c, denial("real-pod"), t0 + 300ms) == verdict::create);
  // ... and so does the reconciler about the flooded namespace: its own bucket.
  CHECK(see(c, policy_set_applied("tenant-a", "applied"), t0 + 300ms) == verdict::create);
  // The flood goes on at one event per 30 s.
  CHECK(see(c, *denial_event("", "v1", "Pod", "tenant-a", "more", "x"), t0 + 1s) ==
        verdict::rate_limited);
  CHECK(see(c, *denial_event("", "v1", "Pod", "tenant-a", "more", "x"), t0 + 31s) ==
        verdict::create);
  // A generateName denial concerns its namespace (though the Event lives in default).
  CHECK(see(c, *denial_event("", "v1", "Pod", "tenant-a", "", "y"), t0 + 31s) ==
        verdict::rate_limited);
  CHECK(see(c, *denial_event("", "v1", "Pod", "tenant-b", "", "y"), t0 + 31s) == verdict::create);
}

TEST_CASE("correlator: namespace buckets are bounded; invented namespaces evict the LRU") {
  event_limits limits;
  limits.max_namespaces = 16;
  limits.global_burst = 1e9;
  event_correlator c(limits);
  for (int i = 0; i < 5000; ++i) {
    see(c, *denial_event("", "v1", "Pod", "invented-" + std::to_string(i), "p", "x"), t0);
  }
  CHECK(c.namespace_bucket_count() == 16);
  // A namespace pushed out starts again with a full bucket (forgetting is never stricter).
  CHECK(see(c, *denial_event("", "v1", "Pod", "invented-0", "q", "x"), t0) == verdict::create);
  CHECK(c.namespace_bucket_count() == 16);
}

TEST_CASE("correlator: a create that failed is tried again by the next occurrence") {
  event_correlator c;
  std::string key;
  const auto r = denial("a");
  REQUIRE(c.observe(r, t0, w0, key) == verdict::create);
  c.create_failed(key);
  CHECK(c.series_count() == 0);
  CHECK(c.observe(r, t0 + 1s, w0, key) == verdict::create);
}

TEST_CASE("correlator: memory is bounded (LRU of series and buckets), idle series forgotten") {
  event_limits limits;
  limits.max_keys = 10;
  limits.global_burst = 1e9;
  limits.namespace_burst = 1e9;  // all in one namespace
  event_correlator c(limits);
  for (int i = 0; i < 500; ++i) see(c, denial("pod-" + std::to_string(i)), t0);
  CHECK(c.series_count() == 10);
  CHECK(c.bucket_count() == 10);
  // The most recent survive.
  CHECK(see(c, denial("pod-499"), t0 + 1s) == verdict::aggregated);
  CHECK(see(c, denial("pod-0"), t0 + 1s) == verdict::create);

  event_correlator d(limits);
  see(d, denial("idle"), t0);
  see(d, denial("pending"), t0);
  see(d, denial("pending"), t0 + 1s);  // a count the API server does not have yet
  d.due(t0 + 6min + 2s, false);        // the idle one, written and done, goes
  CHECK(d.series_count() == 1);
  // A count that could never be written is given up after two windows.
  CHECK(d.due(t0 + 12min + 2s, false).empty());
  CHECK(d.series_count() == 0);
}
