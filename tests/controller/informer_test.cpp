#include "controller/informer.hpp"

#include <mutex>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::eventually;
using controller::testing::fake_cluster;
using controller::testing::make_error;

namespace {

struct recorder {
  std::mutex m;
  std::set<std::string> names;
  int lists = 0;
  int errors = 0;
  informer_handlers handlers() {
    return {[this](std::vector<k8s::object_meta>&& items) {
              std::lock_guard lock(m);
              ++lists;
              names.clear();
              for (const auto& i : items) names.insert(i.name);
            },
            [this](const k8s::watch_event& e) {
              std::lock_guard lock(m);
              if (e.event_type == k8s::watch_event::type::deleted) {
                names.erase(e.object.name);
              } else {
                names.insert(e.object.name);
              }
            },
            [this](const k8s::api_error&, bool) {
              std::lock_guard lock(m);
              ++errors;
            }};
  }
  bool has(const std::string& n) {
    std::lock_guard lock(m);
    return names.contains(n);
  }
};

informer_options fast() {
  informer_options o;
  o.min_backoff = 5ms;
  o.max_backoff = 20ms;
  return o;
}

}  // namespace

TEST_CASE("informer: a broken watch resumes from the last version, without a relist") {
  fake_cluster api;
  api.add_namespace("a");
  recorder r;
  informer inf(api, k8s::namespaces, "", r.handlers(), fast());
  inf.start();
  REQUIRE(eventually([&] { return r.has("a"); }));
  api.fail_next("watch Namespace", make_error(k8s::failure_kind::transport, 0, "reset"));
  api.add_namespace("b");  // while the next watch fails: must still arrive
  REQUIRE(eventually([&] {
    std::lock_guard lock(r.m);
    return r.errors >= 1;
  }));
  api.delete_namespace("a");
  REQUIRE(eventually([&] { return r.has("b") && !r.has("a"); }));
  CHECK(inf.lists() == 1);
  inf.request_stop();
  api.cancel();
  inf.join();
}

TEST_CASE("informer: 410 (an error event) relists; a failed list is retried") {
  fake_cluster api;
  api.fail_next("list Namespace", make_error(k8s::failure_kind::server_error, 503, "down"));
  api.add_namespace("a");
  recorder r;
  informer inf(api, k8s::namespaces, "", r.handlers(), fast());
  inf.start();
  REQUIRE(eventually([&] { return r.has("a"); }));
  CHECK(inf.lists() == 2);  // the failed one and the good one
  api.expire_watches();
  REQUIRE(eventually([&] { return inf.lists() == 3; }));
  api.add_namespace("b");
  REQUIRE(eventually([&] { return r.has("b"); }));
  inf.request_stop();
  api.cancel();
  inf.join();
}

TEST_CASE("retry_backoff: doubles up to its cap and starts over after a success") {
  retry_backoff b(200ms, 2000ms);
  CHECK(b.next() == 200ms);
  CHECK(b.next() == 400ms);
  CHECK(b.next() == 800ms);
  CHECK(b.next() == 1600ms);
  CHECK(b.next() == 2000ms);
  CHECK(b.next() == 2000ms);
  b.reset();
  CHECK(b.next() == 200ms);
  // The default cap is short: a restarted API server is seen within seconds, not half a minute.
  CHECK(informer_options{}.max_backoff <= 2000ms);
}

TEST_CASE("informer: a 410 relists at once, never after the backoff the failures built up") {
  // A backoff of an hour: any sleep before the relist would stall the test.
  for (const bool as_event : {true, false}) {
    CAPTURE(as_event);
    fake_cluster api;
    api.set_watch_timeout(1h);  // a quiet watch that ended at once would back off too
    api.add_namespace("a");
    recorder r;
    informer_options slow;
    slow.min_backoff = 1h;
    slow.max_backoff = 1h;
    informer inf(api, k8s::namespaces, "", r.handlers(), slow);
    inf.start();
    REQUIRE(eventually([&] { return r.has("a"); }));
    if (as_event) {
      api.expire_watches();  // an ERROR event with code 410 in a 200 stream
    } else {
      api.fail_next("watch Namespace", make_error(k8s::failure_kind::expired, 410, "Gone"));
      api.expire_watches();  // ends the open watch; the next one answers HTTP 410
    }
    REQUIRE(eventually([&] { return inf.lists() >= (as_event ? 2u : 3u); }));
    api.add_namespace("b");
    REQUIRE(eventually([&] { return r.has("b"); }));
    {
      std::lock_guard lock(r.m);
      CHECK(r.errors == 0);
    }
    inf.request_stop();
    api.cancel();
    inf.join();
  }
}
