#include "controller/informer.hpp"

#include <mutex>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using testing::fake_cluster;
using testing::make_error;

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

bool eventually(const std::function<bool()>& ok) {
  for (int i = 0; i < 300; ++i) {
    if (ok()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return ok();
}

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
