// The reconciler as in a cluster, against the real kube-apiserver v1.28.7 (kapi): `mlnetpol serve`
// runs as a local process with the project's own RBAC (manifests/base/rbac.yaml) and a real bound
// service-account token (never system:masters), its webhooks registered with the API server (so
// its own writes pass its validating webhook). Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::run_command;
using mlnetpol::testing::shell_quote;

using namespace mlnetpol::testing::e2e;

namespace {

const std::string base_config = R"(platform_namespaces: [argocd, monitoring]
tenant_namespaces: []
ml_training_namespaces: [training]
ml_inference_namespaces: [serving]
)";

}  // namespace

TEST_CASE("e2e: the reconciler against the real kube-apiserver") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("reconciler e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  c.set_config(base_config + "enforcement_mode: enforce\ncilium_mode: false\n");

  // Before mlnetpol: one namespace it must enrol, one it must leave alone.
  REQUIRE(c.kubectl("create namespace argocd").status == 0);
  REQUIRE(c.kubectl("create namespace team-x").status == 0);

  auto a = std::make_unique<replica>("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs);
  REQUIRE_MESSAGE(eventually([&] { return a->ready(); }), a->log());
  c.register_webhooks(a->port());

  INFO("replica-a log:\n" << a->log());

  // --- existing namespaces enrolled at start-up; an unsecured one untouched
  REQUIRE_MESSAGE(eventually([&] { return c.converged("argocd"); }), c.describe("argocd"));
  CHECK(c.labels("argocd")["mlnetpol.io/secured"] == "true");
  CHECK(c.labels("argocd")["mlnetpol.io/platform"] == "true");
  CHECK(c.held("team-x").empty());
  CHECK_FALSE(c.labels("team-x").contains("mlnetpol.io/secured"));
  CHECK(eventually([&] { return c.lease_holder() == "replica-a"; }));
  {
    const std::string m = a->get("/metrics");
    CHECK(m.find(R"(mlnetpol_apiserver_requests_total{verb="apply",code="201"})") !=
          std::string::npos);
    CHECK(m.find(R"(mlnetpol_managed_policies{kind="NetworkPolicy"} )") != std::string::npos);
    CHECK(m.find("\nmlnetpol_cilium_crd_missing 1") != std::string::npos);  // no CRD yet
  }

  // --- a new namespace gets its labels and its full set
  {
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.kubectl("create namespace monitoring").status == 0);
    REQUIRE(eventually([&] { return c.converged("monitoring"); }, 10s));
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("create ns -> full set: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(c.labels("monitoring")["mlnetpol.io/secured"] == "true");
  }

  // --- drift: deleted and edited by an admin -> repaired
  REQUIRE(c.kubectl("-n argocd delete networkpolicy allow-dns").status == 0);
  CHECK(eventually([&] { return c.names(k8s::network_policies, "argocd").contains("allow-dns"); }));
  {
    const auto r = c.kubectl(
        "-n argocd patch networkpolicy default-deny-ingress --type=merge -p "
        "'{\"spec\":{\"policyTypes\":[\"Ingress\",\"Egress\"]}}'");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(eventually([&] {
      return trim(c.kubectl("-n argocd get networkpolicy default-deny-ingress -o "
                            "jsonpath='{.spec.policyTypes}'")
                      .out) == R"(["Ingress"])";
    }));
  }

  // --- audit: labels, no policies, and its pods reach the webhook
  c.set_config(base_config + "enforcement_mode: audit\ncilium_mode: false\n");
  a->reload();
  std::this_thread::sleep_for(1s);
  REQUIRE(c.kubectl("create namespace serving").status == 0);
  CHECK(eventually([&] {
    auto l = c.labels("serving");
    return l["mlnetpol.io/secured"] == "true" && l["mlnetpol.io/inference"] == "true";
  }));
  CHECK(eventually(
      [&] { return a->get("/status").find(R"("serving":{"would_apply":)") != std::string::npos; }));
  CHECK(c.held("serving").empty());
  CHECK(c.held("argocd") == c.desired("argocd"));  // audit deletes nothing
  {
    REQUIRE(c.kubectl("-n serving create serviceaccount default").status == 0);
    const auto count_pods = [&] {
      // Sum of every admission request for Pods in the metrics text.
      std::istringstream in(a->get("/metrics"));
      std::string line;
      double n = 0;
      while (std::getline(in, line))
        if (line.starts_with("mlnetpol_admission_requests_total{") &&
            line.find("kind=\"Pod\"") != std::string::npos)
          n += std::stod(line.substr(line.rfind(' ') + 1));
      return n;
    };
    const double before = count_pods();
    const auto r = c.kubectl("-n serving run web --image=nginx --restart=Never");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK(count_pods() > before);
  }
  c.set_config(base_config + "enforcement_mode: enforce\ncilium_mode: false\n");
  a->reload();
  CHECK(eventually([&] { return c.converged("serving"); }));

  // --- standard -> Cilium (the real CRD) and back, never without default deny
  {
    auto r =
        c.kubectl("apply -f " +
                  shell_quote(source + "/tests/schemas/cilium-crds/ciliumnetworkpolicies.yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
    // (kubectl wait fails while the CRD has no status.conditions yet.)
    REQUIRE(eventually([&] {
      return trim(c.kubectl("get crd ciliumnetworkpolicies.cilium.io -o "
                            "jsonpath='{.status.conditions[?(@.type==\"Established\")].status}'")
                      .out) == "True";
    }));
    std::atomic<bool> to_cilium{true}, done{false};
    std::atomic<int> samples{0}, gaps{0};
    std::thread poller([&] {
      while (!done.load()) {
        // The old kind first: if it is gone, the new one was in place before (apply, then prune).
        const bool cilium_new = to_cilium.load();
        const auto first =
            c.names(cilium_new ? k8s::network_policies : k8s::cilium_network_policies, "argocd");
        const auto second =
            c.names(cilium_new ? k8s::cilium_network_policies : k8s::network_policies, "argocd");
        const auto& nps = cilium_new ? first : second;
        const auto& cnps = cilium_new ? second : first;
        if (!nps.contains("default-deny-ingress") && !cnps.contains("default-deny-with-dns"))
          ++gaps;
        ++samples;
      }
    });
    c.set_config(base_config + "enforcement_mode: enforce\ncilium_mode: true\n");
    a->reload();
    CHECK(eventually(
        [&] { return c.converged("argocd") && c.names(k8s::network_policies, "argocd").empty(); }));
    to_cilium = false;
    c.set_config(base_config + "enforcement_mode: enforce\ncilium_mode: false\n");
    a->reload();
    CHECK(eventually([&] {
      return c.converged("argocd") && c.names(k8s::cilium_network_policies, "argocd").empty();
    }));
    done = true;
    poller.join();
    MESSAGE("default-deny samples during the switches: " << samples.load());
    CHECK(samples.load() > 10);
    CHECK(gaps.load() == 0);
  }

  // --- a namespace removed from the config is pruned (labels and objects)
  c.set_config(
      "platform_namespaces: [monitoring]\ntenant_namespaces: []\nml_training_namespaces: "
      "[training]\nml_inference_namespaces: [serving]\nenforcement_mode: enforce\n");
  a->reload();
  CHECK(eventually([&] { return c.held("argocd").empty(); }));
  CHECK(eventually([&] { return !c.labels("argocd").contains("mlnetpol.io/secured"); }));
  CHECK(c.names(k8s::network_policies, "monitoring").size() > 0);

  // --- the API server stops mid-sync and comes back: converges, nothing lost or duplicated
  {
    std::vector<std::string> tenants;
    for (int i = 0; i < 10; ++i) {
      tenants.push_back("tenant-" + std::to_string(i));
      REQUIRE(c.kubectl("create namespace " + tenants.back()).status == 0);
    }
    std::string list;
    for (const auto& t : tenants) list += (list.empty() ? "" : ", ") + t;
    c.set_config("platform_namespaces: [monitoring]\ntenant_namespaces: [" + list +
                 "]\nml_training_namespaces: [training]\nml_inference_namespaces: "
                 "[serving]\nenforcement_mode: enforce\n");
    a->reload();
    std::this_thread::sleep_for(150ms);
    kapi.stop_apiserver();
    std::this_thread::sleep_for(3s);
    kapi.start_apiserver();
    for (const auto& t : tenants) {
      CAPTURE(t);
      CHECK(eventually([&] { return c.converged(t); }, 40s));
      CHECK(c.labels(t)["mlnetpol.io/tenant"] == "true");
    }
    // Nothing duplicated or left over anywhere: the cluster holds exactly the rendered sets.
    std::size_t expected = 0;
    for (const auto& ns : {"monitoring", "serving"}) expected += c.desired(ns).size();
    for (const auto& t : tenants) expected += c.desired(t).size();
    auto all = c.admin->list_all(k8s::network_policies, "", managed);
    REQUIRE(all.has_value());
    CHECK(all->items.size() == expected);
    CHECK(a->running());
  }

  // --- two replicas: one leader; the other takes over when it stops
  {
    replica b("replica-b", c.dir, c.sa_kubeconfig, c.config, c.certs);
    REQUIRE_MESSAGE(eventually([&] { return b.ready(); }), b.log());
    std::this_thread::sleep_for(2s);
    CHECK(a->leader());
    CHECK_FALSE(b.leader());
    CHECK(c.lease_holder() == "replica-a");
    // Every replica keeps the namespace cache and counts policies from the cluster.
    CHECK(eventually(
        [&] { return b.get("/status").find(R"("managed_policy_count":0)") == std::string::npos; }));
    c.register_webhooks(b.port());  // the API server must reach a live webhook after a stops
    // The per-namespace override, honoured by the replica that is not the leader: its own
    // namespace cache (list + watch) carries the label, no request body does.
    {
      const std::string run_hostnet =
          "-n serving run hostnet --image=nginx --restart=Never "
          "--overrides='{\"apiVersion\":\"v1\",\"spec\":{\"hostNetwork\":true}}'";
      const auto denied = c.kubectl(run_hostnet);
      CHECK_MESSAGE(denied.status != 0, denied.out);  // enforce: hostNetwork refused by b
      REQUIRE(c.kubectl("label namespace serving mlnetpol.io/enforcement=audit").status == 0);
      CHECK_MESSAGE(eventually([&] { return c.kubectl(run_hostnet).status == 0; }), b.log());
      CHECK(c.kubectl("label namespace serving mlnetpol.io/enforcement-").status == 0);
    }
    // SIGTERM: the lease goes at once, while a's server still drains (--drain-idle-timeout 5s).
    const auto t0 = std::chrono::steady_clock::now();
    a->terminate();
    REQUIRE(eventually([&] { return c.lease_holder() == "replica-b" && b.leader(); }, 10s));
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("handover: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms");
    CHECK(took < 3s);  // released at SIGTERM, neither expired (4 s) nor after the drain (5 s)
    a->stop();
    CHECK(a->log().find("lease released") != std::string::npos);
    REQUIRE(c.kubectl("-n monitoring delete networkpolicy default-deny-egress").status == 0);
    CHECK(eventually([&] { return c.converged("monitoring"); }));
    b.stop();
  }

  // --- an edit made while no replica runs (the spec-hash left alone) is repaired by the next
  // one: its managedFields name another manager, though no replica remembers a resourceVersion.
  {
    // No replica answers, so the policy webhook (failurePolicy: Fail) would refuse the edit.
    REQUIRE(c.kubectl("delete validatingwebhookconfiguration mlnetpol").status == 0);
    const auto r = c.kubectl(
        "-n monitoring patch networkpolicy default-deny-ingress --type=merge -p "
        "'{\"spec\":{\"policyTypes\":[\"Ingress\",\"Egress\"]}}'");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    const auto policy_types = [&] {
      return trim(c.kubectl("-n monitoring get networkpolicy default-deny-ingress -o "
                            "jsonpath='{.spec.policyTypes}'")
                      .out);
    };
    REQUIRE(policy_types() == R"(["Ingress","Egress"])");
    replica d("replica-d", c.dir, c.sa_kubeconfig, c.config, c.certs);
    REQUIRE_MESSAGE(eventually([&] { return d.ready(); }), d.log());
    c.register_webhooks(d.port());
    CHECK_MESSAGE(eventually([&] { return policy_types() == R"(["Ingress"])"; }, 15s), d.log());
    d.stop();
  }
}
