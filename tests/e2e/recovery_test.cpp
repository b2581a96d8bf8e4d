// Recovery after an API-server outage, against the real kube-apiserver v1.28.7 (kapi): the
// kube-apiserver is killed for 30 s (etcd keeps running) and started again; a managed policy
// deleted right after it is ready must be back within seconds: the watches retry with a short
// capped backoff, the 410 that follows relists at once, and the relist queues only what changed
// (a few paged lists, no list per namespace). Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using namespace mlnetpol::testing::e2e;

namespace {

// The sum of mlnetpol_apiserver_requests_total samples with this verb and a 2xx code.
double successful(const replica& r, const std::string& verb) {
  std::istringstream in(r.get("/metrics"));
  std::string line;
  double n = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("mlnetpol_apiserver_requests_total{") &&
        line.find("verb=\"" + verb + "\"") != std::string::npos &&
        line.find("code=\"2") != std::string::npos)
      n += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return n;
}

}  // namespace

TEST_CASE("e2e: API server killed for 30 s: a policy deleted once it is ready is back in seconds") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("recovery e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  std::vector<std::string> tenants;
  std::string list;
  for (int i = 0; i < 20; ++i) {
    tenants.push_back("rec-" + std::to_string(i));
    REQUIRE(c.kubectl("create namespace " + tenants.back()).status == 0);
    list += (list.empty() ? "" : ", ") + tenants.back();
  }
  c.set_config("platform_namespaces: []\ntenant_namespaces: [" + list +
               "]\nml_training_namespaces: []\nml_inference_namespaces: []\n"
               "enforcement_mode: enforce\n");
  // Production timings for the election and the resync (the later flags win).
  replica a("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs,
            {"--leader-elect-lease-duration", "15s", "--leader-elect-renew-deadline", "10s",
             "--leader-elect-retry-period", "2s", "--resync-period", "10m"});
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  c.register_webhooks(a.port());
  INFO("replica-a log:\n" << a.log());
  for (const auto& t : tenants) {
    CAPTURE(t);
    REQUIRE(eventually([&] { return c.converged(t); }, 60s));
  }
  REQUIRE(eventually([&] { return a.leader(); }));

  kapi.stop_apiserver();
  std::this_thread::sleep_for(30s);
  const double lists_before = successful(a, "list");
  kapi.start_apiserver();  // returns once /readyz answers ok
  const auto ready = std::chrono::steady_clock::now();
  const auto deleted = c.kubectl("-n rec-7 delete networkpolicy allow-dns");
  REQUIRE_MESSAGE(deleted.status == 0, deleted.out);
  REQUIRE(eventually(
      [&] { return c.names(k8s::network_policies, "rec-7").contains("allow-dns"); }, 60s));
  const auto took = std::chrono::steady_clock::now() - ready;
  MESSAGE("API server ready -> deleted policy back: "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 15s);  // the target is 5 s (bench/README.md); generous for a shared machine
  CHECK(a.running());

  // The recovery cost a few cluster-wide lists (the relists, a pass), not one per namespace.
  REQUIRE(eventually([&] { return c.converged("rec-7"); }));
  std::this_thread::sleep_for(2s);
  const double lists = successful(a, "list") - lists_before;
  MESSAGE("successful list calls after the restart: " << lists);
  CHECK(lists < static_cast<double>(tenants.size()));
  for (const auto& t : tenants) CHECK(c.converged(t));
}
