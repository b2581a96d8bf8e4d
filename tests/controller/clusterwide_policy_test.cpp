// controller/clusterwide_policy.cpp against the in-memory cluster: the one
// CiliumClusterwideNetworkPolicy created, left alone when converged, repaired after an edit and
// recreated after a delete (by its watch, on the leader only), pruned in standard mode or audit, and
// reported without a retry when its CRD is missing.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "controller/clusterwide_policy.hpp"
#include "policy/render/clusterwide.hpp"
#include "tests/controller/fake_cluster.hpp"

namespace controller = mlnetpol::controller;
namespace policy = mlnetpol::policy;
using mlnetpol::controller::testing::eventually;
using mlnetpol::controller::testing::fake_cluster;
using mlnetpol::controller::testing::make_error;

namespace {

constexpr const char* kind = "CiliumClusterwideNetworkPolicy";
constexpr const char* name = "mlnetpol-default-deny";

policy::config cilium() {
  policy::config cfg;
  cfg.cilium_mode = true;
  cfg.tenant_namespaces = {"team-a"};
  return cfg;
}

std::size_t writes(fake_cluster& f) {
  const auto calls = f.calls();
  return static_cast<std::size_t>(std::count_if(calls.begin(), calls.end(), [](const auto& c) {
    return c.starts_with("apply") || c.starts_with("replace") || c.starts_with("delete");
  }));
}

bool rendered_spec(fake_cluster& f) {
  const auto o = f.find(kind, "", name);
  return o && o->meta.spec.find("\"ingress\":[{}]") != std::string::npos &&
         o->meta.spec.find("mlnetpol.io/secured") != std::string::npos;
}

}  // namespace

TEST_CASE("clusterwide policy keeper: created, then a converged cluster costs no write") {
  fake_cluster f;
  controller::clusterwide_policy_keeper keeper(f, f, [] { return true; });
  CHECK(keeper.status().state == "unknown");
  auto s = keeper.sync(cilium());
  CHECK(s.state == "in_place");
  CHECK(s.applied == 1);
  CHECK(rendered_spec(f));
  f.clear_calls();
  s = keeper.sync(cilium());
  CHECK(s.applied == 0);
  CHECK(writes(f) == 0);

  SUBCASE("an edit is replaced whole") {
    f.put_object(kind, "", name, {{"app.kubernetes.io/managed-by", "mlnetpol"}}, {},
                 "kubectl-edit", R"({"endpointSelector":{},"egress":[{"toEntities":["all"]}]})");
    f.clear_calls();
    s = keeper.sync(cilium());
    CHECK(s.applied == 1);
    CHECK(f.calls() == std::vector<std::string>{"list " + std::string(kind) + " ",
                                                "replace " + std::string(kind) + " /" + name});
    CHECK(rendered_spec(f));
  }
  SUBCASE("standard mode deletes it") {
    auto cfg = cilium();
    cfg.cilium_mode = false;
    s = keeper.sync(cfg);
    CHECK(s.state == "absent");
    CHECK(s.pruned == 1);
    CHECK_FALSE(f.find(kind, "", name));
  }
  SUBCASE("audit deletes it") {
    auto cfg = cilium();
    cfg.enforcement = policy::enforcement_mode::audit;
    s = keeper.sync(cfg);
    CHECK(s.pruned == 1);
    CHECK_FALSE(f.find(kind, "", name));
  }
}

TEST_CASE("clusterwide policy keeper: its watch repairs an edit and recreates a delete") {
  fake_cluster f;
  std::atomic<bool> leader{true};
  controller::clusterwide_policy_keeper keeper(f, f, [&] { return leader.load(); },
                                               {std::chrono::seconds(1)});
  keeper.sync(cilium());
  keeper.start();
  f.put_object(kind, "", name, {{"app.kubernetes.io/managed-by", "mlnetpol"}}, {}, "kubectl-edit",
               R"({"endpointSelector":{},"egress":[{"toEntities":["all"]}]})");
  CHECK(eventually([&] { return rendered_spec(f); }));
  f.delete_object(kind, "", name);
  CHECK(eventually([&] { return rendered_spec(f); }));

  // A replica that is not the leader watches too, but writes nothing.
  leader = false;
  f.delete_object(kind, "", name);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(f.find(kind, "", name));
  keeper.request_stop();
  f.cancel();
  keeper.join();
}

TEST_CASE("clusterwide policy keeper: without the CRD, said once, nothing retried") {
  fake_cluster f;
  f.set_cilium_installed(false);
  controller::clusterwide_policy_keeper keeper(f, f, [] { return true; });
  auto s = keeper.sync(cilium());
  CHECK(s.state == "crd_missing");
  CHECK(s.message.find("CRD is not installed") != std::string::npos);
  CHECK(f.calls() == std::vector<std::string>{"list " + std::string(kind) + " "});
  CHECK(keeper.status().state == "crd_missing");
  // Standard mode needs no CRD.
  auto cfg = cilium();
  cfg.cilium_mode = false;
  CHECK(keeper.sync(cfg).state == "absent");
  // Installed: the next sync (a pass, or the watch's list) creates it.
  f.set_cilium_installed(true);
  CHECK(keeper.sync(cilium()).state == "in_place");
  CHECK(rendered_spec(f));
}

TEST_CASE("clusterwide policy keeper: a refused write is reported") {
  fake_cluster f;
  f.fail_next(std::string("apply ") + kind, make_error(mlnetpol::k8s::failure_kind::forbidden,
                                                       403, "forbidden"));
  controller::clusterwide_policy_keeper keeper(f, f, [] { return true; });
  const auto s = keeper.sync(cilium());
  CHECK(s.state == "error");
  CHECK(s.message.find("forbidden") != std::string::npos);
}
