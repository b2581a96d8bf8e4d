// The scheduling gate (issue 23) against the real kube-apiserver v1.28.7 (kapi, where
// PodSchedulingReadiness is on): pods created in a new secured namespace before its policy set is
// stored carry mlnetpol's gate, and the leader removes it once every object of the set exists.
// The webhooks point at a replica that is not the leader: it gates from its own cache. Skipped
// when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/e2e/tenant.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::shell_quote;
using nlohmann::json;

using namespace mlnetpol::testing::e2e;

namespace {

constexpr k8s::resource service_accounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
constexpr int namespaces = 10;
constexpr int pods_per_namespace = 5;

std::string config_yaml(bool cilium) {
  std::string tenants = "[other-gate, in-place, cil-a";
  for (int i = 0; i < namespaces; ++i) tenants += ", burst-" + std::to_string(i);
  return "platform_namespaces: []\ntenant_namespaces: " + tenants +
         "]\nml_training_namespaces: []\nml_inference_namespaces: []\n"
         "enforcement_mode: enforce\ncilium_mode: " +
         (cilium ? "true" : "false") + "\n";
}

std::uint64_t rv(const std::string& v) {
  return v.empty() ? 0 : std::stoull(v);
}

json gates_of(const std::string& spec) {
  const json s = json::parse(spec.empty() ? "{}" : spec);
  return s.contains("schedulingGates") ? s["schedulingGates"] : json::array();
}

bool has_gate(const json& gates, const std::string& name) {
  for (const auto& g : gates)
    if (g.value("name", "") == name) return true;
  return false;
}

std::string pod_body(const std::string& ns, const std::string& name, const json& gates = nullptr) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec",
               {{"automountServiceAccountToken", false},
                {"containers", json::array({{{"name", "c"}, {"image", "nginx"}}})}}}};
  if (!gates.is_null()) pod["spec"]["schedulingGates"] = gates;
  return pod.dump();
}

// A namespace then its pods, back to back on the test's one client (one connection).
struct created_pod {
  std::string ns, name;
  std::uint64_t rv = 0;
  bool gated = false;
  std::chrono::steady_clock::time_point at;
};

void create_namespace(cluster_fixture& c, const std::string& ns) {
  auto made = c.admin->create(k8s::namespaces, "",
                              json{{"apiVersion", "v1"},
                                   {"kind", "Namespace"},
                                   {"metadata", {{"name", ns}}}}
                                  .dump());
  REQUIRE_MESSAGE(made.has_value(), made.error().message);
  // kapi runs no controller manager: the ServiceAccount admission plugin needs `default`.
  auto sa = c.admin->create(service_accounts, ns,
                            json{{"apiVersion", "v1"},
                                 {"kind", "ServiceAccount"},
                                 {"metadata", {{"name", "default"}}}}
                                .dump());
  REQUIRE_MESSAGE(sa.has_value(), sa.error().message);
}

created_pod create_pod(cluster_fixture& c, const std::string& ns, const std::string& name,
                       const json& gates = nullptr) {
  auto made = c.admin->create(k8s::pods, ns, pod_body(ns, name, gates));
  REQUIRE_MESSAGE(made.has_value(), made.error().message);
  return {ns, name, rv(made->resource_version),
          has_gate(gates_of(made->spec), "mlnetpol.io/policy-set"),
          std::chrono::steady_clock::now()};
}

// The newest resourceVersion among the namespace's managed objects; 0 until its whole set exists.
std::uint64_t set_stored_at(cluster_fixture& c, const std::string& ns) {
  if (!c.converged(ns)) return 0;
  std::uint64_t newest = 0;
  for (const k8s::resource* r : {&k8s::network_policies, &k8s::cilium_network_policies}) {
    auto page = c.admin->list_all(*r, ns, managed);
    if (!page) continue;
    for (const auto& item : page->items) newest = std::max(newest, rv(item.resource_version));
  }
  return newest;
}

std::string recorded_set(cluster_fixture& c, const std::string& ns) {
  auto got = c.admin->get(k8s::namespaces, "", ns);
  if (!got) return {};
  const auto it = got->annotations.find("mlnetpol.io/policy-set");
  return it == got->annotations.end() ? std::string() : it->second;
}

}  // namespace

TEST_CASE("e2e: the scheduling gate holds pods until their namespace's set is stored") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("scheduling gate e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  c.set_config(config_yaml(false));

  auto leader = std::make_unique<replica>("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs);
  REQUIRE_MESSAGE(eventually([&] { return leader->ready() && leader->leader(); }), leader->log());
  auto follower =
      std::make_unique<replica>("replica-b", c.dir, c.sa_kubeconfig, c.config, c.certs);
  REQUIRE_MESSAGE(eventually([&] { return follower->ready(); }), follower->log());
  // Every admission request goes to the replica that is not the leader: it gates from its own
  // namespace cache; the leader stores the sets and releases.
  c.register_webhooks(follower->port());
  INFO("leader log:\n" << tail_of(c.dir + "/replica-a.log", 4000));
  INFO("follower log:\n" << tail_of(c.dir + "/replica-b.log", 2000));
  REQUIRE_FALSE(follower->leader());

  // --- the burst: 10 new namespaces, each created with 5 pods back to back
  std::vector<created_pod> pods;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < namespaces; ++i) {
    const std::string ns = "burst-" + std::to_string(i);
    create_namespace(c, ns);
    for (int p = 0; p < pods_per_namespace; ++p)
      pods.push_back(create_pod(c, ns, "p" + std::to_string(p)));
  }
  std::map<std::string, std::uint64_t> stored;  // namespace -> resourceVersion of its whole set
  REQUIRE(eventually(
      [&] {
        for (int i = 0; i < namespaces; ++i) {
          const std::string ns = "burst-" + std::to_string(i);
          if (!stored.contains(ns)) {
            if (const auto at = set_stored_at(c, ns)) stored[ns] = at;
          }
        }
        return stored.size() == static_cast<std::size_t>(namespaces);
      },
      30s));
  std::size_t gated = 0;
  for (const auto& p : pods) {
    CAPTURE(p.ns);
    CAPTURE(p.name);
    // Stored before its namespace's set: it must carry the gate.
    if (p.rv < stored[p.ns]) CHECK(p.gated);
    gated += p.gated;
  }
  MESSAGE(gated << " of " << pods.size() << " pods were gated");
  // Every gate released, never before every object of the set existed: the release is the pod's
  // last write, so its resourceVersion is newer than every object of the set.
  REQUIRE(eventually(
      [&] {
        for (const auto& p : pods) {
          auto got = c.admin->get(k8s::pods, p.ns, p.name);
          if (!got || !gates_of(got->spec).empty() || got->labels.contains("mlnetpol.io/gated"))
            return false;
        }
        return true;
      },
      20s));
  const auto all_released = std::chrono::steady_clock::now();
  MESSAGE("burst: every set stored and every gate released "
          << std::chrono::duration_cast<std::chrono::milliseconds>(all_released - t0).count()
          << " ms after the first namespace was created");
  for (const auto& p : pods) {
    if (!p.gated) continue;
    auto got = c.admin->get(k8s::pods, p.ns, p.name);
    REQUIRE(got.has_value());
    CAPTURE(p.name);
    CHECK(rv(got->resource_version) > stored[p.ns]);
    CHECK_FALSE(recorded_set(c, p.ns).empty());
  }
  {
    const std::string m = leader->get("/metrics");
    CHECK(leader->metric("mlnetpol_gates_released_total") == static_cast<double>(gated));
    CHECK(leader->metric("mlnetpol_pods_gated") == 0);
    CHECK(m.find("mlnetpol_gate_held_seconds_count " + std::to_string(gated)) != std::string::npos);
  }

  // --- a pod in a namespace whose set is in place: no gate (and no write to release one)
  create_namespace(c, "in-place");
  REQUIRE(eventually([&] { return !recorded_set(c, "in-place").empty(); }, 15s));
  int attempt = 0;
  // The follower's watch delivers the annotation within milliseconds; poll, no fixed sleep.
  CHECK(eventually(
      [&] { return !create_pod(c, "in-place", "ready-" + std::to_string(attempt++)).gated; }, 5s));

  // --- another controller's gate stays; mlnetpol's is appended after it and released alone
  // (The leader frozen for the moment: a quiet machine stores a new namespace's set before the
  // test's next request, and this pod must come first.)
  const std::string quota_ns = "other-gate";
  leader->pause();
  create_namespace(c, quota_ns);
  const created_pod quota =
      create_pod(c, quota_ns, "quota", json::array({{{"name", "example.com/quota"}}}));
  leader->resume();
  CHECK(quota.gated);
  CHECK(eventually([&] {
    auto got = c.admin->get(k8s::pods, quota_ns, "quota");
    return got && !got->labels.contains("mlnetpol.io/gated") &&
           gates_of(got->spec) == json::array({{{"name", "example.com/quota"}}});
  }));

  REQUIRE(c.kubectl("create namespace cil-a").status == 0);

  // --- Cilium mode without the CRD: the set cannot be stored, pods stay gated with an Event;
  // installing the CRD stores it and releases them
  c.set_config(config_yaml(true));
  leader->reload();
  follower->reload();
  // The follower renders the Cilium set (a new hash): pods in cil-a are gated from now on.
  REQUIRE(c.kubectl("-n cil-a create serviceaccount default").status == 0);
  REQUIRE(eventually(
      [&] {
        const auto p = create_pod(c, "cil-a", "probe-" + std::to_string(attempt++));
        return p.gated;
      },
      10s));
  const std::string held_pod = "probe-" + std::to_string(attempt - 1);
  CHECK(eventually(
      [&] {
        const auto r = c.kubectl("-n cil-a get events.events.k8s.io -o json");
        const json list = json::parse(r.out, nullptr, false);
        if (!list.is_object()) return false;
        for (const auto& e : list["items"]) {
          if (e.value("reason", "") == "PolicySetNotStored" &&
              e["regarding"].value("name", "") == held_pod)
            return true;
        }
        return false;
      },
      20s));
  CHECK(leader->get("/status").find(R"("cil-a":"crd_missing)") != std::string::npos);
  // The cluster-wide default deny cannot be stored either: said on /status, nothing else changes
  // (its CRD stays missing below: the gate alone decides the release).
  CHECK(eventually([&] {
    return leader->get("/status").find(
               R"("clusterwide_policy":{"name":"mlnetpol-default-deny","state":"crd_missing")") !=
           std::string::npos;
  }));
  {
    auto got = c.admin->get(k8s::pods, "cil-a", held_pod);
    REQUIRE(got.has_value());
    CHECK(has_gate(gates_of(got->spec), "mlnetpol.io/policy-set"));
  }
  {
    // The tenant (every right in its namespace, and patch on its Namespace) cannot escape: neither
    // by removing the gate from its pod nor by forging "set in place" on its Namespace.
    const tenant t = make_tenant(kapi, "cil-a", "tenant-admin", true);
    auto r = t.kubectl("-n cil-a patch pod " + held_pod +
                       " --type=json -p '[{\"op\":\"remove\",\"path\":\"/spec/schedulingGates/0\"}]'");
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("removes the scheduling gate mlnetpol.io/policy-set") !=
                      std::string::npos,
                  r.out);
    r = t.kubectl("annotate namespace cil-a mlnetpol.io/policy-set=forged --overwrite");
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("annotation mlnetpol.io/policy-set") != std::string::npos, r.out);
  }
  auto crd = c.kubectl("apply -f " +
                       shell_quote(source + "/tests/schemas/cilium-crds/ciliumnetworkpolicies.yaml"));
  REQUIRE_MESSAGE(crd.status == 0, crd.out);
  CHECK(eventually(
      [&] {
        auto got = c.admin->get(k8s::pods, "cil-a", held_pod);
        return got && gates_of(got->spec).empty();
      },
      30s));
}
