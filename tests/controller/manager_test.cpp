#include "controller/manager.hpp"

#include <functional>
#include <thread>

#include <doctest/doctest.h>

#include "tests/controller/cluster_handles.hpp"
#include "tests/controller/fake_cluster.hpp"
#include "tests/controller/memory_event_sink.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::eventually;
using controller::testing::fake_cluster;
using controller::testing::freezable_handle;
using controller::testing::list_hook_handle;
using controller::testing::shared_handle;

namespace {

manager_options fast(std::string id) {
  manager_options o;
  o.election.identity = std::move(id);
  o.election.lease_duration = 1000ms;
  o.election.renew_deadline = 600ms;
  o.election.retry_period = 50ms;
  o.informers.min_backoff = 10ms;
  o.informers.max_backoff = 50ms;
  o.resync_period = 1h;
  return o;
}

// fast() with a lease that a loaded machine (ASan, two cores) does not let lapse: for tests that
// are not about expiry, so that a renew coming 600 ms late cannot hand the lease to the other
// replica half-way through. A released lease is still taken over at once (retry_period).
manager_options steady(std::string id) {
  manager_options o = fast(std::move(id));
  o.election.lease_duration = 10s;
  o.election.renew_deadline = 6s;
  return o;
}

}  // namespace

TEST_CASE("manager: enrols existing namespaces, reconciles new ones, repairs drift, prunes") {
  fake_cluster api;
  api.add_namespace("argocd");
  api.add_namespace("default");
  policy::config cfg;
  manager m(std::make_unique<shared_handle>(api), cfg, fast("a"));
  CHECK_FALSE(m.synced());
  m.start();
  REQUIRE(eventually([&] { return m.synced() && m.leader(); }));
  REQUIRE(eventually([&] { return api.names("NetworkPolicy", "argocd").size() == 4; }));
  CHECK(api.labels("argocd").at("mlnetpol.io/secured") == "true");
  CHECK_FALSE(api.labels("default").contains("mlnetpol.io/secured"));
  CHECK(m.namespaces().labels_of("default"));

  // A new namespace is reconciled the moment it exists.
  api.add_namespace("training");
  REQUIRE(eventually([&] { return api.names("NetworkPolicy", "training").size() == 4; }));
  CHECK(api.labels("training").at("workload-type") == "training");
  REQUIRE(eventually([&] {
    const auto l = m.namespaces().labels_of("training");
    return l && l->contains("mlnetpol.io/training");
  }));

  // Drift: deleted by hand -> restored.
  api.delete_object("NetworkPolicy", "argocd", "default-deny-ingress");
  REQUIRE(eventually(
      [&] { return api.find("NetworkPolicy", "argocd", "default-deny-ingress").has_value(); }));

  // A resync where nothing changed lists and writes nothing.
  REQUIRE(eventually([&] { return m.idle(); }));
  std::this_thread::sleep_for(100ms);
  api.clear_calls();
  m.update_config(cfg);  // same configuration: a full pass
  REQUIRE(eventually([&] { return m.full_syncs() >= 2 && m.idle(); }));
  std::this_thread::sleep_for(100ms);
  CHECK(api.writes() == 0);
  // One cluster-wide list per kind, none per namespace.
  std::size_t cluster_lists = 0, namespace_lists = 0;
  for (const auto& call : api.calls()) {
    if (call == "list NetworkPolicy " || call == "list CiliumNetworkPolicy ") ++cluster_lists;
    if (call.rfind("list NetworkPolicy ", 0) == 0 && call.size() > 19) ++namespace_lists;
  }
  CHECK(cluster_lists == 2);
  CHECK(namespace_lists == 0);

  // The namespace leaves the lists: labels and objects go.
  policy::config smaller = cfg;
  smaller.platform_namespaces = {"monitoring"};
  m.update_config(smaller);
  REQUIRE(eventually([&] { return api.names("NetworkPolicy", "argocd").empty(); }));
  REQUIRE(eventually([&] { return !api.labels("argocd").contains("mlnetpol.io/secured"); }));

  // The managed-object watch sees the deletions a moment later.
  REQUIRE(eventually(
      [&] { return m.status_json().find(R"("managed_policy_count":4)") != std::string::npos; }));
  const std::string status = m.status_json();
  CHECK(status.find(R"("secured_namespaces":["monitoring")") != std::string::npos);
  // Training's, from the cluster; policy_count is what the configuration renders.
  CHECK(status.find(R"("managed_policy_count":4)") != std::string::npos);
  CHECK(status.find(R"("leader":true)") != std::string::npos);
  CHECK(status.find(R"("last_full_sync":")") != std::string::npos);
  const std::string metrics = m.metrics_text();
  CHECK(metrics.find("mlnetpol_leader 1") != std::string::npos);
  CHECK(metrics.find(R"(mlnetpol_reconcile_total{result="ok"})") != std::string::npos);
  CHECK(metrics.find(R"(mlnetpol_managed_policies{kind="NetworkPolicy"} 4)") != std::string::npos);

  m.stop();
  CHECK(api.lease()->holder_identity.empty());  // released on stop
}

TEST_CASE("manager: two replicas, one leader; the other takes over when it stops") {
  fake_cluster api;
  api.add_namespace("argocd");
  policy::config cfg;
  auto a = std::make_unique<manager>(std::make_unique<shared_handle>(api), cfg, steady("a"));
  a->start();
  REQUIRE(eventually([&] { return a->leader(); }));
  manager b(std::make_unique<shared_handle>(api), cfg, steady("b"));
  b.start();
  REQUIRE(eventually([&] { return b.synced(); }));
  std::this_thread::sleep_for(300ms);
  CHECK(a->leader());
  CHECK_FALSE(b.leader());
  // Every replica keeps the cache (admission reads it) and counts policies from the cluster.
  REQUIRE(eventually(
      [&] { return b.status_json().find(R"("managed_policy_count":4)") != std::string::npos; }));
  a->stop();
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return b.leader(); }));
  // Released lease: no need to wait for the 10 s lease to expire.
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  // The new leader repairs what happens from now on.
  api.delete_object("NetworkPolicy", "argocd", "allow-dns");
  REQUIRE(eventually([&] { return api.find("NetworkPolicy", "argocd", "allow-dns").has_value(); }));
  a.reset();
  b.stop();
}

TEST_CASE("manager: step_down hands the lease over at once and keeps the namespace cache") {
  fake_cluster api;
  api.add_namespace("argocd");
  policy::config cfg;
  manager a(std::make_unique<shared_handle>(api), cfg, steady("a"));
  a.start();
  REQUIRE(eventually([&] { return a.leader(); }));
  manager b(std::make_unique<shared_handle>(api), cfg, steady("b"));
  b.start();
  REQUIRE(eventually([&] { return b.synced(); }));
  const auto t0 = std::chrono::steady_clock::now();
  a.step_down();  // SIGTERM: the server drains for seconds, the lease must not wait for it
  REQUIRE(eventually([&] { return b.leader(); }));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // released, not expired (10 s)
  CHECK_FALSE(a.leader());
  // a's cache still follows the cluster: requests answered during the drain read it.
  api.add_namespace("late");
  CHECK(eventually([&] { return a.namespaces().labels_of("late") != nullptr; }));
  // b, not a, repairs from now on.
  api.delete_object("NetworkPolicy", "argocd", "allow-dns");
  REQUIRE(eventually([&] { return api.find("NetworkPolicy", "argocd", "allow-dns").has_value(); }));
  a.stop();
  b.stop();
}

// a leads and has stored argocd's policies; b follows, its store synced, its lists hooked. The next
// cluster-wide list of NetworkPolicies b makes is its first pass's, as leader.
struct leader_and_hooked_follower {
  fake_cluster api;
  policy::config cfg;
  std::unique_ptr<manager> a;
  list_hook_handle* b_api = nullptr;
  std::unique_ptr<manager> b;

  leader_and_hooked_follower() {
    api.add_namespace("argocd");
    a = std::make_unique<manager>(std::make_unique<shared_handle>(api), cfg, steady("a"));
    a->start();
    REQUIRE(
        eventually([&] { return api.names("NetworkPolicy", "argocd").size() == 4 && a->idle(); }));
    auto handle = std::make_unique<list_hook_handle>(api);
    b_api = handle.get();
    b = std::make_unique<manager>(std::move(handle), cfg, steady("b"));
    b->start();
    // Its informer watches once its list is handled.
    REQUIRE(eventually([&] { return b->synced() && b_api->watches(k8s::network_policies) > 0; }));
  }
  ~leader_and_hooked_follower() {
    a.reset();
    b.reset();
  }
  // After a's lease is gone: b leads, its pass ran the hook, the hook's own check held (it ran on
  // b's pass thread, where nothing may assert), and b puts the deleted policy back.
  void b_leads_and_repairs(const std::atomic<bool>& hook_held) {
    REQUIRE(eventually([&] { return b->leader(); }));
    REQUIRE(eventually([&] { return b_api->fired(); }));
    REQUIRE(hook_held.load());
    CHECK(eventually([&] { return api.find("NetworkPolicy", "argocd", "allow-dns").has_value(); }));
  }
};

TEST_CASE("manager: a deletion seen while a new leader's pass lists is repaired") {
  // The pass's list still holds the policy the event says is gone: the event found no list of the
  // pass to discard yet, so the pass must not keep that list for the namespace's reconcile.
  leader_and_hooked_follower r;
  std::atomic<bool> handled{false};  // set on b's pass thread: no assertion there
  r.b_api->arm(k8s::network_policies, [&] {
    const auto seen = r.b_api->handled(k8s::network_policies);
    r.api.delete_object("NetworkPolicy", "argocd", "allow-dns");
    handled = eventually([&] { return r.b_api->handled(k8s::network_policies) > seen; });
  });
  r.a->step_down();
  r.b_leads_and_repairs(handled);
}

TEST_CASE("manager: a relist while a new leader's pass lists discards the pass's lists") {
  // A deletion no watch saw (a gap, then 410): only the relist shows it, after the pass listed.
  leader_and_hooked_follower r;
  std::atomic<bool> relisted{false};  // set on b's pass thread: no assertion there
  std::atomic<bool> a_gone{false};
  r.b_api->arm(k8s::network_policies, [&] {
    // a's informers (stopped after its lease is released) must not take the expiry meant for b's.
    relisted = eventually([&] { return a_gone.load(); });
    r.api.delete_object_unseen("NetworkPolicy", "argocd", "allow-dns");
    r.api.expire_watches();
    relisted = relisted && eventually([&] {
                 return r.b->status_json().find(R"("managed_policy_count":3)") != std::string::npos;
               });
  });
  r.a.reset();
  a_gone = true;
  r.b_leads_and_repairs(relisted);
}

TEST_CASE("manager: audit mode labels, applies nothing and reports in /status and metrics") {
  fake_cluster api;
  api.add_namespace("argocd");
  policy::config cfg;
  cfg.enforcement = policy::enforcement_mode::audit;
  manager m(std::make_unique<shared_handle>(api), cfg, fast("a"));
  m.start();
  REQUIRE(eventually([&] {
    return m.status_json().find(R"("audit":{"argocd":{"would_apply":4)") != std::string::npos;
  }));
  CHECK(api.labels("argocd").at("mlnetpol.io/secured") == "true");
  CHECK(api.names("NetworkPolicy", "argocd").empty());
  CHECK(m.metrics_text().find("mlnetpol_audit_would_apply_policies 4") != std::string::npos);
  m.stop();
}

TEST_CASE("manager: a missing Cilium CRD is reported and admission's cache still syncs") {
  fake_cluster api;
  api.set_cilium_installed(false);
  api.add_namespace("argocd");
  policy::config cfg;
  cfg.cilium_mode = true;
  manager m(std::make_unique<shared_handle>(api), cfg, fast("a"));
  m.start();
  REQUIRE(eventually([&] { return m.synced(); }));
  REQUIRE(eventually([&] {
    return m.metrics_text().find("mlnetpol_cilium_crd_missing 1") != std::string::npos &&
           m.status_json().find("crd_missing: apply") != std::string::npos;
  }));
  api.set_cilium_installed(true);
  REQUIRE(eventually([&] { return api.names("CiliumNetworkPolicy", "argocd").size() == 2; }));
  REQUIRE(eventually(
      [&] { return m.metrics_text().find("mlnetpol_cilium_crd_missing 0") != std::string::npos; }));
  m.stop();
}

TEST_CASE("manager: a watch that expires (410) relists and loses no namespace") {
  fake_cluster api;
  policy::config cfg;
  manager m(std::make_unique<shared_handle>(api), cfg, fast("a"));
  m.start();
  REQUIRE(eventually([&] { return m.synced() && m.leader(); }));
  api.expire_watches();
  api.add_namespace("monitoring");
  REQUIRE(eventually([&] {
    return api.names("NetworkPolicy", "monitoring").size() ==
           policy::render_policies(cfg, "monitoring").size();
  }));
  m.stop();
}

TEST_CASE("manager: after a relist only what changed is queued, read from the watches' store") {
  fake_cluster api;
  policy::config cfg;
  cfg.tenant_namespaces = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};
  for (const auto& ns : cfg.tenant_namespaces) api.add_namespace(ns);
  manager m(std::make_unique<shared_handle>(api), cfg, fast("a"));
  m.start();
  const auto per_ns = policy::render_policies(cfg, "t0").size();
  REQUIRE(eventually([&] {
    for (const auto& ns : cfg.tenant_namespaces)
      if (api.names("NetworkPolicy", ns).size() != per_ns) return false;
    return m.idle();
  }));
  std::this_thread::sleep_for(100ms);
  REQUIRE(eventually([&] { return m.idle(); }));
  api.clear_calls();
  const auto reconciles = [&] {
    const std::string text = m.metrics_text();
    const std::string series = "mlnetpol_reconcile_total{result=\"ok\"} ";
    const auto at = text.find(series);
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + series.size()));
  };
  const double reconciled = reconciles();
  // Lost in a gap of the watch (an API-server restart): only the relist after the 410 shows it.
  api.delete_object_unseen("NetworkPolicy", "t5", "allow-dns");
  api.expire_watches();
  REQUIRE(eventually([&] { return api.find("NetworkPolicy", "t5", "allow-dns").has_value(); }));
  REQUIRE(eventually([&] { return m.idle(); }));
  std::this_thread::sleep_for(100ms);
  std::size_t cluster_lists = 0, other_lists = 0, t5_lists = 0;
  for (const auto& call : api.calls()) {
    if (call.rfind("list ", 0) != 0) continue;
    if (call.back() == ' ') {
      ++cluster_lists;
    } else {
      (call.size() > 3 && call.compare(call.size() - 3, 3, " t5") == 0 ? t5_lists : other_lists)++;
    }
  }
  CAPTURE(api.calls());
  CHECK(cluster_lists == 3);  // one relist per informer
  CHECK(other_lists == 0);    // the reconcile read the store, not the API server
  // A second pass of t5 that runs before the watch brings back our apply asks the API server
  // (both kinds, once) rather than apply again from a store behind our write.
  CHECK(t5_lists <= 2);
  CHECK(api.writes() == 1);  // t5's policy
  // t5 only (twice at most: its apply's own event can beat the apply's answer); the other
  // namespaces were not even queued.
  CHECK(reconciles() - reconciled <= 2);
  m.stop();
}

TEST_CASE("manager: a new leader's pass reads the watches' store and repairs what it missed") {
  fake_cluster api;
  policy::config cfg;
  cfg.tenant_namespaces = {"t0", "t1", "t2", "t3", "t4", "t5"};
  for (const auto& ns : cfg.tenant_namespaces) api.add_namespace(ns);
  auto a = std::make_unique<manager>(std::make_unique<shared_handle>(api), cfg, steady("a"));
  a->start();
  const auto per_ns = policy::render_policies(cfg, "t0").size();
  REQUIRE(eventually([&] {
    for (const auto& ns : cfg.tenant_namespaces)
      if (api.names("NetworkPolicy", ns).size() != per_ns) return false;
    return a->idle();
  }));
  auto b_handle = std::make_unique<shared_handle>(api);
  shared_handle& b_api = *b_handle;
  manager b(std::move(b_handle), cfg, steady("b"));
  b.start();
  const std::string all = R"("managed_policy_count":)" + std::to_string(per_ns * 6);
  REQUIRE(eventually([&] { return b.status_json().find(all) != std::string::npos; }));
  // b's store holds both managed kinds (each informer watches once its list is handled): only then
  // may its pass skip the lists, which is what this checks.
  REQUIRE(eventually([&] {
    return b_api.watches(k8s::network_policies) > 0 &&
           b_api.watches(k8s::cilium_network_policies) > 0;
  }));
  a->stop();
  api.clear_calls();
  api.delete_object("NetworkPolicy", "t3", "allow-dns");  // seen by b, leader or not yet
  REQUIRE(eventually([&] { return b.leader(); }));
  REQUIRE(eventually([&] { return api.find("NetworkPolicy", "t3", "allow-dns").has_value(); }));
  REQUIRE(eventually([&] { return b.full_syncs() >= 1 && b.idle(); }));
  for (const auto& call : api.calls()) CHECK(call.rfind("list NetworkPolicy", 0) != 0);
  CHECK(api.writes() == 1);
  a.reset();
  b.stop();
}

TEST_CASE("manager: a pass costs the same API calls and one render per namespace at any scale") {
  // Deterministic growth instead of timing: passes over n and 2n namespaces list the same number
  // of times, write nothing, and render each namespace once per configuration.
  auto pass_calls = [](int n) {
    fake_cluster api;
    policy::config cfg;
    for (int i = 0; i < n; ++i) {
      cfg.tenant_namespaces.push_back("t" + std::to_string(i));
      api.add_namespace(cfg.tenant_namespaces.back());
    }
    manager m(std::make_unique<shared_handle>(api), cfg, fast("a"));
    m.start();
    REQUIRE(eventually([&] { return m.full_syncs() >= 1 && m.idle(); }));
    std::this_thread::sleep_for(100ms);
    REQUIRE(eventually([&] { return m.idle(); }));
    api.clear_calls();
    const auto renders = m.renders();
    m.update_config(cfg);  // a new configuration: every namespace rendered once more
    REQUIRE(eventually([&] { return m.full_syncs() >= 2 && m.idle(); }));
    std::this_thread::sleep_for(100ms);
    CHECK(api.writes() == 0);
    CHECK(renders >= static_cast<std::uint64_t>(n));
    CHECK(m.renders() == static_cast<std::uint64_t>(n));
    std::size_t lists = 0;
    for (const auto& call : api.calls())
      if (call.rfind("list ", 0) == 0) ++lists;
    m.stop();
    return lists;
  };
  const auto small = pass_calls(20);
  const auto large = pass_calls(40);
  // One cluster-wide list per managed kind, and the cluster-wide policy's.
  CHECK(small == 3);
  CHECK(large == small);
}

TEST_CASE("manager: the leader reports PolicySetApplied and PolicySetFailed; a follower nothing") {
  fake_cluster api;
  api.add_namespace("argocd");
  policy::config cfg;
  auto sink_a = std::make_unique<controller::testing::memory_sink>();
  auto sink_b = std::make_unique<controller::testing::memory_sink>();
  controller::testing::memory_sink& events_a = *sink_a;
  controller::testing::memory_sink& events_b = *sink_b;
  event_recorder_options quick;
  quick.tick = 20ms;
  manager a(std::make_unique<shared_handle>(api), cfg, steady("a"));
  a.set_event_recorder(std::make_unique<event_recorder>(std::move(sink_a), quick));
  a.start();
  REQUIRE(eventually([&] { return a.leader(); }));
  manager b(std::make_unique<shared_handle>(api), cfg, steady("b"));
  b.set_event_recorder(std::make_unique<event_recorder>(std::move(sink_b), quick));
  b.start();
  REQUIRE(eventually([&] { return api.names("NetworkPolicy", "argocd").size() == 4; }));
  auto reasons = [](controller::testing::memory_sink& s, const std::string& reason) {
    std::vector<std::string> out;
    for (const auto& c : s.calls())
      if (c.verb == "create" && c.body.find("\"reason\":\"" + reason + "\"") != std::string::npos)
        out.push_back(c.body);
    return out;
  };
  // Our own label patch on the Namespace queues argocd once more; that pass must not trust a watch
  // store still missing the objects just written (it would apply them again: a second event, "N
  // written"). Waited for as "at least one", counted exactly once the leader is idle.
  REQUIRE(eventually([&] { return !reasons(events_a, "PolicySetApplied").empty(); }));
  const std::string applied = reasons(events_a, "PolicySetApplied")[0];
  CHECK(applied.find(R"("type":"Normal")") != std::string::npos);
  CHECK(applied.find(R"("regarding":{"apiVersion":"v1","kind":"Namespace","name":"argocd"})") !=
        std::string::npos);
  CHECK(applied.find(R"("namespace":"default")") != std::string::npos);
  CHECK(applied.find("4 written") != std::string::npos);

  // An unchanged resync writes no event (counted after that second pass, if any, settled).
  REQUIRE(eventually([&] { return a.idle(); }));
  std::this_thread::sleep_for(200ms);
  REQUIRE(eventually([&] { return a.idle(); }));
  const auto applied_before = reasons(events_a, "PolicySetApplied").size();
  CHECK(applied_before == 1);
  a.update_config(cfg);
  REQUIRE(eventually([&] { return a.full_syncs() >= 2 && a.idle(); }));
  std::this_thread::sleep_for(100ms);
  CHECK(reasons(events_a, "PolicySetApplied").size() == applied_before);

  // Someone else's spec under our labels and spec-hash: replaced, and a Warning about the object
  // names who wrote it.
  const auto live = api.find("NetworkPolicy", "argocd", "default-deny-egress");
  REQUIRE(live);
  api.put_object("NetworkPolicy", "argocd", "default-deny-egress", live->meta.labels,
                 live->meta.annotations, "kubectl-patch",
                 R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})");
  // One edit, one repair: wait for it, let the leader settle, then count.
  REQUIRE(eventually([&] { return !reasons(events_a, "PolicyRepaired").empty(); }));
  REQUIRE(eventually([&] { return a.idle(); }));
  CHECK(reasons(events_a, "PolicyRepaired").size() == 1);
  const std::string repaired = reasons(events_a, "PolicyRepaired")[0];
  CHECK(repaired.find(R"("type":"Warning")") != std::string::npos);
  CHECK(repaired.find(R"("kind":"NetworkPolicy")") != std::string::npos);
  CHECK(repaired.find(R"("name":"default-deny-egress")") != std::string::npos);
  CHECK(repaired.find("kubectl-patch (Update)") != std::string::npos);
  CHECK(api.find("NetworkPolicy", "argocd", "default-deny-egress")->meta.spec ==
        R"({"podSelector":{},"policyTypes":["Egress"]})");
  REQUIRE(eventually([&] { return a.idle(); }));

  // A write the API server refuses: one Warning with its answer.
  api.fail_next("apply NetworkPolicy argocd/",
                controller::testing::make_error(k8s::failure_kind::forbidden, 403, "RBAC says no"));
  api.delete_object("NetworkPolicy", "argocd", "allow-dns");
  REQUIRE(eventually([&] { return !reasons(events_a, "PolicySetFailed").empty(); }));
  REQUIRE(eventually([&] { return a.idle(); }));
  CHECK(reasons(events_a, "PolicySetFailed").size() == 1);  // one refusal injected, one Warning
  const std::string failed = reasons(events_a, "PolicySetFailed")[0];
  CHECK(failed.find(R"("type":"Warning")") != std::string::npos);
  CHECK(failed.find("RBAC says no") != std::string::npos);
  CHECK(a.metrics_text().find(R"(mlnetpol_events_total{result="sent"} )") != std::string::npos);

  // The follower saw the same cluster and wrote nothing.
  CHECK(events_b.calls().empty());
  b.stop();
  a.stop();
}

namespace {

policy::config tenants(std::initializer_list<const char*> names) {
  policy::config cfg;
  cfg.platform_namespaces = {};
  for (const char* n : names) cfg.tenant_namespaces.emplace_back(n);
  return cfg;
}

const auto ten = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"};

}  // namespace

TEST_CASE("manager: a leader whose renew hangs stops leading at the renew deadline") {
  fake_cluster api;
  api.add_namespace("argocd");
  policy::config cfg;
  std::atomic<bool> frozen{false};
  manager a(std::make_unique<freezable_handle>(api, frozen), cfg, fast("a"));
  a.start();
  REQUIRE(eventually([&] { return a.leader(); }));
  manager b(std::make_unique<shared_handle>(api), cfg, fast("b"));
  b.start();
  REQUIRE(eventually([&] { return b.synced(); }));
  REQUIRE(eventually([&] { return a.idle(); }));
  const auto t0 = std::chrono::steady_clock::now();
  frozen = true;  // the renew in flight (or the next one) hangs for good
  // Leadership ends by the renew deadline (600 ms) after the last renew, not when the call returns.
  REQUIRE(eventually([&] { return !a.leader(); }, 2000ms));
  const auto lost = std::chrono::steady_clock::now() - t0;
  MESSAGE("not leader after " << std::chrono::duration_cast<std::chrono::milliseconds>(lost).count()
                              << " ms");
  CHECK(lost < 600ms + 200ms);  // 200 ms: the watch's wake-up and this poll's 10 ms, on a busy box
  CHECK(a.metrics_text().find("\nmlnetpol_leader 0") != std::string::npos);
  CHECK(a.status_json().find(R"("leader":false)") != std::string::npos);
  // The standby takes the expired lease and repairs; the frozen one writes nothing.
  REQUIRE(eventually([&] { return b.leader(); }));
  CHECK(api.lease()->holder_identity == "b");
  api.delete_object("NetworkPolicy", "argocd", "allow-dns");
  REQUIRE(eventually([&] { return api.find("NetworkPolicy", "argocd", "allow-dns").has_value(); }));
  CHECK_FALSE(a.leader());
  frozen = false;  // a answers again: it sees b's live lease and stays a standby
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(a.leader());
  CHECK(b.leader());
  a.stop();
  b.stop();
}

TEST_CASE("manager: a reload that strips most namespaces is held until confirmed") {
  fake_cluster api;
  api.add_namespace("mlnetpol-system");
  for (const char* n : ten) api.add_namespace(n);
  manager m(std::make_unique<shared_handle>(api), tenants(ten), fast("a"));
  m.start();
  REQUIRE(eventually([&] {
    for (const char* n : ten)
      if (api.names("NetworkPolicy", n).empty()) return false;
    return m.idle();
  }));
  CHECK(m.status_json().find(R"("config_change_held":null)") != std::string::npos);

  // Six of the ten would lose their policies: more than 10 %, so held.
  const auto six_gone = tenants({"t0", "t1", "t2", "t3"});
  m.update_config(six_gone);
  REQUIRE(eventually([&] {
    return m.metrics_text().find("\nmlnetpol_config_change_held 1") != std::string::npos;
  }));
  std::this_thread::sleep_for(300ms);
  REQUIRE(eventually([&] { return m.idle(); }));
  for (const char* n : ten) {
    CAPTURE(n);
    CHECK(api.names("NetworkPolicy", n).size() > 0);
    CHECK(api.labels(n).contains("mlnetpol.io/secured"));
  }
  const std::string status = m.status_json();
  const std::string digest = config_digest(six_gone);
  CHECK(status.find(R"("digest":")" + digest + "\"") != std::string::npos);
  CHECK(status.find(R"("namespaces_losing_policies":6,"namespaces_holding_policies":10)") !=
        std::string::npos);
  CHECK(status.find(R"("namespaces":["t4","t5","t6","t7","t8","t9"])") != std::string::npos);
  CHECK(m.metrics_text().find("\nmlnetpol_config_changes_held_total 1") != std::string::npos);
  // The configuration in force before stays in force: drift is still repaired.
  api.delete_object("NetworkPolicy", "t9", "allow-dns");
  REQUIRE(eventually([&] { return api.find("NetworkPolicy", "t9", "allow-dns").has_value(); }));

  // A confirmation of some other digest changes nothing; the held one's applies it.
  api.annotate_namespace("mlnetpol-system", "mlnetpol.io/confirm-config", "0000000000000000");
  std::this_thread::sleep_for(300ms);
  CHECK(api.names("NetworkPolicy", "t5").size() > 0);
  api.annotate_namespace("mlnetpol-system", "mlnetpol.io/confirm-config", digest);
  REQUIRE(eventually([&] {
    for (const char* n : {"t4", "t5", "t6", "t7", "t8", "t9"})
      if (!api.names("NetworkPolicy", n).empty()) return false;
    return true;
  }));
  CHECK(api.names("NetworkPolicy", "t0").size() > 0);
  CHECK(eventually(
      [&] { return m.status_json().find(R"("config_change_held":null)") != std::string::npos; }));
  CHECK(m.metrics_text().find("\nmlnetpol_config_change_held 0") != std::string::npos);
  m.stop();
}

TEST_CASE("manager: at start-up the guard compares the configuration with what the cluster holds") {
  fake_cluster api;
  api.add_namespace("mlnetpol-system");
  for (const char* n : ten) api.add_namespace(n);
  {
    manager first(std::make_unique<shared_handle>(api), tenants(ten), fast("a"));
    first.start();
    REQUIRE(
        eventually([&] { return api.names("NetworkPolicy", "t9").size() > 0 && first.idle(); }));
    first.stop();
  }
  api.clear_calls();
  // A replica starting with a configuration that secures three of the ten: held, nothing written.
  manager m(std::make_unique<shared_handle>(api), tenants({"t0", "t1", "t2"}), fast("b"));
  m.start();
  REQUIRE(eventually([&] {
    return m.status_json().find(R"("namespaces_losing_policies":7)") != std::string::npos;
  }));
  std::this_thread::sleep_for(300ms);
  CHECK(api.writes() == 0);
  for (const char* n : ten) CHECK(api.names("NetworkPolicy", n).size() > 0);
  // With a guard that allows it (--prune-guard-percent=100), the same start prunes at once.
  m.stop();
  auto lenient = fast("c");
  lenient.guard.max_percent = 100;
  manager n(std::make_unique<shared_handle>(api), tenants({"t0", "t1", "t2"}), lenient);
  n.start();
  REQUIRE(eventually([&] { return api.names("NetworkPolicy", "t9").empty(); }));
  CHECK(api.names("NetworkPolicy", "t0").size() > 0);
  n.stop();
}

TEST_CASE("manager: the leader releases a gated pod once its set is recorded; another gate stays") {
  fake_cluster api;
  api.add_namespace("argocd");
  api.add_namespace("default");
  const std::string gates =
      R"({"schedulingGates":[{"name":"example.com/quota"},{"name":"mlnetpol.io/policy-set"}]})";
  api.add_pod("argocd", "web", {{"mlnetpol.io/gated", "true"}, {"app", "web"}}, gates);
  // Outside the lists (no set applies there): released at once.
  api.add_pod("default", "stray", {{"mlnetpol.io/gated", "true"}}, gates);
  manager m(std::make_unique<shared_handle>(api), policy::config{}, fast("a"));
  m.start();
  auto released = [&](const std::string& ns, const std::string& name) {
    const auto pod = api.find("Pod", ns, name);
    return pod && !pod->meta.labels.contains("mlnetpol.io/gated") &&
           pod->meta.spec == R"({"schedulingGates":[{"name":"example.com/quota"}]})";
  };
  REQUIRE_MESSAGE(
      eventually([&] { return released("argocd", "web") && released("default", "stray"); }),
      "argocd/web released: " << released("argocd", "web") << ", default/stray released: "
                              << released("default", "stray") << "; status: " << m.status_json());
  CHECK(api.find("Pod", "argocd", "web")->meta.labels.at("app") == "web");
  // Released only after the set was stored and recorded: the whole set (4 objects) applied before
  // the first record, the release after it. (A second reconcile queued by the gated pod's event may
  // apply the set again; server-side apply makes that a no-op.)
  const auto calls = api.calls();
  std::size_t recorded = calls.size(), release = calls.size();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].starts_with("patch Namespace argocd") &&
        calls[i].find("mlnetpol.io/policy-set") != std::string::npos)
      recorded = std::min(recorded, i);
    if (calls[i].starts_with("json-patch Pod argocd/web")) release = std::min(release, i);
  }
  std::set<std::string> applied_before_record;
  for (std::size_t i = 0; i < recorded; ++i) {
    if (calls[i].starts_with("apply NetworkPolicy argocd/")) applied_before_record.insert(calls[i]);
  }
  CHECK(applied_before_record.size() == 4);
  CHECK(recorded < release);
  REQUIRE(eventually([&] { return m.gated_pods() == 0; }));
  const std::string metrics = m.metrics_text();
  CHECK(metrics.find("\nmlnetpol_gates_released_total 2") != std::string::npos);
  CHECK(metrics.find("\nmlnetpol_pods_gated 0") != std::string::npos);
  CHECK(metrics.find("mlnetpol_gate_held_seconds_count 2") != std::string::npos);
}
