// Cilium mode's one CiliumClusterwideNetworkPolicy (issue 23, item 6) against the real
// kube-apiserver v1.28.7 with both Cilium CRDs: the leader creates it, repairs an edit, recreates
// a delete and removes it in standard mode; a privileged user outside admin_groups is refused as for
// the other managed objects; a namespace is labelled secured at admission, so the policy selects
// its pods before their namespace's own set exists. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::run_command;
using mlnetpol::testing::shell_quote;
using nlohmann::json;

using namespace mlnetpol::testing::e2e;

namespace {

const std::string ccnp = "ciliumclusterwidenetworkpolicy";
const std::string name = "mlnetpol-default-deny";

std::string config_yaml(bool cilium) {
  return std::string("platform_namespaces: []\ntenant_namespaces: [team-a, fresh]\n"
                     "ml_training_namespaces: []\nml_inference_namespaces: []\n"
                     "enforcement_mode: enforce\ncilium_mode: ") +
         (cilium ? "true" : "false") + "\n";
}

// The live policy's spec, or null when it does not exist.
json live_spec(cluster_fixture& c) {
  const auto r = c.kubectl("get " + ccnp + " " + name + " -o json");
  const json o = json::parse(r.out, nullptr, false);
  return r.status == 0 && o.is_object() ? o["spec"] : json();
}

// What `mlnetpol render` prints for it under the configuration in force.
json rendered_spec(cluster_fixture& c) {
  const auto r = run_command(shell_quote(binary) + " render --config " + shell_quote(c.config) +
                             " -o json");
  const json list = json::parse(r.out, nullptr, false);
  if (!list.is_object() || !list.contains("items")) return json();
  for (const auto& item : list["items"])
    if (item["kind"] == "CiliumClusterwideNetworkPolicy") return item["spec"];
  return json();
}

}  // namespace

TEST_CASE("e2e: Cilium mode keeps one cluster-wide default deny for secured namespaces") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("clusterwide policy e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  for (const char* crd : {"ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"}) {
    const auto r = c.kubectl("apply -f " + shell_quote(source + "/tests/schemas/cilium-crds/" +
                                                       crd + ".yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
    REQUIRE(eventually([&] {
      return trim(c.kubectl(std::string("get crd ") + crd +
                            ".cilium.io -o jsonpath='{.status.conditions[?(@.type==\"Established\")]"
                            ".status}'")
                      .out) == "True";
    }));
  }
  c.set_config(config_yaml(true));
  // No resync during the test (the later flag wins): repairs must come from the policy's watch.
  replica a("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs, {"--resync-period=10m"});
  REQUIRE_MESSAGE(eventually([&] { return a.ready() && a.leader(); }), a.log());
  c.register_webhooks(a.port());

  // --- created by the leader, exactly as rendered; /status says so
  const json want = rendered_spec(c);
  REQUIRE(want.is_object());
  REQUIRE_MESSAGE(eventually([&] { return live_spec(c) == want; }, 30s), a.log());
  CHECK(eventually(
      [&] { return a.get("/status").find(R"("state":"in_place")") != std::string::npos; }));

  // --- a namespace is labelled secured at admission: the policy selects its pods at once
  REQUIRE(c.kubectl("create namespace fresh").status == 0);
  CHECK(c.labels("fresh")["mlnetpol.io/secured"] == "true");
  {
    // Its own set may not exist yet; what the cluster-wide policy alone allows a pod there:
    // DNS and nothing else (explain reads the live objects, the pod given as a file).
    write_text(c.dir + "/fresh-pod.yaml",
               "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: fresh}\n"
               "spec: {containers: [{name: c, image: x}]}\n");
    const std::string ns_yaml = c.kubectl("get namespace fresh -o yaml").out;
    write_text(c.dir + "/fresh-ns.yaml", ns_yaml);
    const std::string ccnp_yaml = c.kubectl("get " + ccnp + " " + name + " -o yaml").out;
    write_text(c.dir + "/ccnp.yaml", ccnp_yaml);
    const auto explain = [&](const std::string& to) {
      return run_command(shell_quote(binary) + " explain -f " + shell_quote(c.dir + "/fresh-ns.yaml") +
                         " -f " + shell_quote(c.dir + "/fresh-pod.yaml") + " -f " +
                         shell_quote(c.dir + "/ccnp.yaml") + " --from fresh/p " + to + " 2>&1");
    };
    const auto web = explain("--to 52.216.1.10 --port 443");
    CHECK_MESSAGE(web.status != 0, web.out);
    CHECK_MESSAGE(web.out.find("CiliumClusterwideNetworkPolicy " + name + " does not allow it") !=
                      std::string::npos,
                  web.out);
    const auto dns = explain("--to-labels kube-system:k8s-app=kube-dns --port 53 --protocol UDP");
    CHECK_MESSAGE(dns.status == 0, dns.out);
    CHECK_MESSAGE(dns.out.find("allowed by CiliumClusterwideNetworkPolicy " + name) !=
                      std::string::npos,
                  dns.out);
  }

  // --- a privileged user outside admin_groups is refused, as for the other managed objects
  REQUIRE(c.kubectl("create clusterrolebinding ops-admin --clusterrole=cluster-admin --user=ops")
              .status == 0);
  {
    const auto r = c.kubectl("--as=ops patch " + ccnp + " " + name +
                             " --type=merge -p '{\"spec\":{\"egress\":[{\"toEntities\":[\"all\"]}]}}'");
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("is managed by mlnetpol") != std::string::npos, r.out);
    const auto d = c.kubectl("--as=ops delete " + ccnp + " " + name);
    CHECK(d.status != 0);
    CHECK_MESSAGE(d.out.find("is managed by mlnetpol") != std::string::npos, d.out);
  }

  // --- an administrator's edit (admin_groups pass the webhook) is repaired, a delete recreated
  {
    const auto r = c.kubectl("patch " + ccnp + " " + name +
                             " --type=merge -p '{\"spec\":{\"egress\":[{\"toEntities\":[\"all\"]}]}}'");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    CHECK_MESSAGE(eventually([&] { return live_spec(c) == want; }), a.log());
    CHECK(a.log().find("repaired the cluster-wide policy someone else wrote") != std::string::npos);
    const auto d = c.kubectl("delete " + ccnp + " " + name);
    REQUIRE_MESSAGE(d.status == 0, d.out);
    CHECK_MESSAGE(eventually([&] { return live_spec(c) == want; }), a.log());
  }

  // --- standard mode: removed
  c.set_config(config_yaml(false));
  a.reload();
  CHECK_MESSAGE(eventually([&] { return live_spec(c).is_null(); }, 30s), a.log());
  CHECK(eventually(
      [&] { return a.get("/status").find(R"("state":"absent")") != std::string::npos; }));
}
