#include "controller/namespace_controller.hpp"

#include <atomic>
#include <mutex>

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"

using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::eventually;
using controller::testing::fake_cluster;

namespace {

struct fixture {
  fake_cluster api;
  namespace_cache cache;
  reconciler r{api, cache};
  std::shared_ptr<const desired_state> want = std::make_shared<const desired_state>(policy::config{});
  std::atomic<bool> leading{true};
  std::mutex mutex;
  std::vector<std::pair<std::string, reconcile_status>> reconciled;  // what the hook saw
  controller_metrics metrics;
  namespace_controller loop{
      r, metrics, backoff_options{},
      namespace_controller_hooks{
          [this] { return want; }, [this] { return leading.load(); },
          [](const std::string&) { return namespace_listing{}; },
          [this](const desired_state&, const std::string& ns, const reconcile_outcome& out,
                 const outcome_handling&) {
            std::lock_guard lock(mutex);
            reconciled.emplace_back(ns, out.status);
          }}};

  fixture() {
    api.add_namespace("argocd");
    auto page = api.list_all(k8s::namespaces, "", "");
    std::vector<std::pair<std::string, label_map>> entries;
    for (auto& m : page->items) entries.emplace_back(m.name, m.labels);
    cache.replace(std::move(entries), {});
    loop.start(2, nullptr);
  }
  std::vector<std::pair<std::string, reconcile_status>> seen() {
    std::lock_guard lock(mutex);
    return reconciled;
  }
};

}  // namespace

TEST_CASE("namespace_controller: only the leader reconciles") {
  fixture f;
  f.leading = false;
  f.loop.add("argocd");
  REQUIRE(eventually([&] { return f.loop.idle(); }));
  CHECK(f.seen().empty());
  CHECK(f.api.writes() == 0);
  f.leading = true;
  f.loop.add("argocd");
  REQUIRE(eventually([&] { return f.seen().size() == 1 && f.loop.idle(); }));
  CHECK(f.seen()[0] == std::pair<std::string, reconcile_status>{"argocd", reconcile_status::ok});
  CHECK_FALSE(f.api.names("NetworkPolicy", "argocd").empty());
  f.loop.shutdown();
  f.loop.join();
  f.loop.wait_for_workers(std::chrono::milliseconds(0));  // they ended: returns at once
}

TEST_CASE("namespace_controller: a refused write is kept for /status and retried until it passes") {
  fixture f;
  f.api.fail_next("apply NetworkPolicy argocd/",
                  controller::testing::make_error(k8s::failure_kind::forbidden, 403, "RBAC says no"));
  f.loop.add("argocd");
  REQUIRE(eventually([&] { return !f.seen().empty(); }));
  CHECK(f.seen()[0].second == reconcile_status::forbidden);
  // Requeued with backoff: the next attempt finds the grant (the failure was injected once).
  REQUIRE(eventually([&] { return f.seen().size() >= 2 && f.loop.idle(); }));
  CHECK(f.seen().back().second == reconcile_status::ok);
  CHECK(f.loop.results().errors().empty());
  std::string metrics;
  f.metrics.render(metrics);
  CHECK(metrics.find(R"(mlnetpol_reconcile_total{result="forbidden"} 1)") != std::string::npos);
}

TEST_CASE("namespace_controller: the failure stays in the results while it lasts") {
  fixture f;
  f.want = std::make_shared<const desired_state>(policy::config{});
  f.leading = true;
  for (int i = 0; i < 50; ++i)
    f.api.fail_next("apply NetworkPolicy argocd/",
                    controller::testing::make_error(k8s::failure_kind::forbidden, 403, "RBAC says no"));
  f.loop.add("argocd");
  REQUIRE(eventually([&] { return f.loop.results().errors().contains("argocd"); }));
  CHECK(f.loop.results().errors().at("argocd").rfind("forbidden: RBAC must grant", 0) == 0);
  f.loop.forget("argocd");  // the namespace was deleted
  f.loop.shutdown();
  f.loop.join();
}
