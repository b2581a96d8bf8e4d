// Guardrails for tenant policies (issue 20, attack 2) against the real kube-apiserver v1.28.7:
// `mlnetpol serve` with the project's RBAC and webhooks, and a real tenant identity (a
// ServiceAccount whose RoleBinding grants NetworkPolicies and CiliumNetworkPolicies in its own
// namespace; its bearer token, not `--as`). The tenant's allow-all is refused with a message that
// says what to do; a narrow, documented exception is admitted. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "tests/e2e/cluster.hpp"
#include "tests/e2e/tenant.hpp"
#include "tests/support/kapi.hpp"

using mlnetpol::testing::kapi_server;
using mlnetpol::testing::run_command;
using mlnetpol::testing::shell_quote;
using namespace mlnetpol::testing::e2e;

namespace {

constexpr const char* tenant_rbac = R"yaml(apiVersion: v1
kind: ServiceAccount
metadata: {name: tenant, namespace: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: tenant-admin, namespace: team-a}
rules:
  - apiGroups: ["networking.k8s.io"]
    resources: ["networkpolicies"]
    verbs: ["*"]
  - apiGroups: ["cilium.io"]
    resources: ["ciliumnetworkpolicies"]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: tenant-admin, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: tenant-admin}
subjects:
  - {kind: ServiceAccount, name: tenant, namespace: team-a}
)yaml";

constexpr const char* allow_all = allow_all_team_a;

constexpr const char* documented_db = R"yaml(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: orders-db
  namespace: team-a
  annotations:
    mlnetpol.io/exception-reason: "api pods read the orders database (10.0.12.0/24:5432)"
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 10.0.12.0/24}}]
      ports: [{protocol: TCP, port: 5432}]
)yaml";

constexpr const char* undocumented_db = R"yaml(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: orders-db-undocumented, namespace: team-a}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 10.0.12.0/24}}]
)yaml";

constexpr const char* cilium_world = R"yaml(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: open-world, namespace: team-a}
spec:
  endpointSelector: {}
  egress:
    - toEntities: [world, cluster]
)yaml";

constexpr const char* cilium_bucket = R"yaml(apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: model-bucket
  namespace: team-a
  annotations:
    mlnetpol.io/exception-reason: "serving loads model weights from s3://acme-models"
spec:
  endpointSelector: {matchLabels: {app: predictor}}
  egress:
    - toFQDNs: [{matchName: acme-models.s3.amazonaws.com}]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
)yaml";

}  // namespace

TEST_CASE("e2e: a tenant's allow-all policy is refused, a documented exception admitted") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("tenant policy guardrails e2e skipped: MLNETPOL_KAPI (path of the kapi script) is "
              "not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  auto kubectl = [&](const std::string& args) { return c.kubectl(args); };
  // The CiliumNetworkPolicy CRD (no Cilium agent needed: the API server stores and admits them).
  {
    const auto r = kubectl("apply -f " +
                           shell_quote(source + "/tests/schemas/cilium-crds/ciliumnetworkpolicies.yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
    REQUIRE(kubectl("wait --for condition=established --timeout=30s "
                    "crd/ciliumnetworkpolicies.cilium.io")
                .status == 0);
  }
  c.set_config(
      "platform_namespaces: []\ntenant_namespaces: [team-a]\nml_training_namespaces: []\n"
      "ml_inference_namespaces: []\nenforcement_mode: enforce\n");
  REQUIRE(kubectl("create namespace team-a").status == 0);
  REQUIRE(kubectl("create namespace team-b").status == 0);  // not secured
  write_text(c.dir + "/tenant-rbac.yaml", tenant_rbac);
  {
    const auto r = kubectl("apply -f " + shell_quote(c.dir + "/tenant-rbac.yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }

  replica a("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs);
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  c.register_webhooks(a.port());
  INFO("replica-a log:\n" << a.log());
  // The leader labels team-a secured: from then on the tenant-policies webhook sees its policies.
  REQUIRE(eventually([&] { return c.labels("team-a")["mlnetpol.io/secured"] == "true"; }, 30s));
  REQUIRE(eventually([&] { return c.converged("team-a"); }, 30s));

  // The tenant: a bearer token of team-a's ServiceAccount (its groups are the real ones).
  const auto token = kubectl("-n team-a create token tenant --duration=1h");
  REQUIRE(token.status == 0);
  const std::string tenant_config = c.dir + "/tenant.kubeconfig";
  write_text(tenant_config,
             "apiVersion: v1\nkind: Config\nclusters:\n- name: kapi\n  cluster:\n    server: " +
                 kapi.url() + "\n    certificate-authority: " + kapi.ca_file() +
                 "\nusers:\n- name: tenant\n  user:\n    token: " + trim(token.out) +
                 "\ncontexts:\n- name: tenant\n  context: {cluster: kapi, user: tenant}\n"
                 "current-context: tenant\n");
  auto as_tenant = [&](const std::string& args) {
    return run_command("kubectl --kubeconfig " + shell_quote(tenant_config) + " " + args +
                       " 2>&1");
  };
  auto tenant_apply = [&](const std::string& name, const char* yaml) {
    write_text(c.dir + "/" + name + ".yaml", yaml);
    return as_tenant("apply -f " + shell_quote(c.dir + "/" + name + ".yaml"));
  };
  REQUIRE(trim(as_tenant("auth can-i create networkpolicies -n team-a").out) == "yes");
  REQUIRE(trim(as_tenant("auth can-i create networkpolicies -n team-b").out) == "no");

  // --- the issue's allow-all: refused, with what is wrong, how to narrow it, the annotation
  {
    const auto r = tenant_apply("allow-all", allow_all);
    CAPTURE(r.out);
    CHECK(r.status != 0);
    CHECK(r.out.find("denied the request") != std::string::npos);
    CHECK(r.out.find("NetworkPolicy \"allow-all\" allows egress to every address: "
                     "spec.egress[0] (no `to`: every destination)") != std::string::npos);
    CHECK(r.out.find("allows ingress from every namespace or address: spec.ingress[0]") !=
          std::string::npos);
    CHECK(r.out.find("Fix: name the destinations the pods need instead") != std::string::npos);
    CHECK(r.out.find("mlnetpol.io/exception-reason") != std::string::npos);
    CHECK(kubectl("-n team-a get networkpolicy allow-all").status != 0);  // nothing stored
  }
  // --- a narrow exception without its reason: refused, naming the annotation
  {
    const auto r = tenant_apply("undocumented", undocumented_db);
    CAPTURE(r.out);
    CHECK(r.status != 0);
    CHECK(r.out.find("allows egress beyond its namespace (spec.egress[0].to[0].ipBlock "
                     "10.0.12.0/24) without annotation mlnetpol.io/exception-reason") !=
          std::string::npos);
  }
  // --- the same exception, documented: admitted
  {
    const auto r = tenant_apply("documented", documented_db);
    CAPTURE(r.out);
    CHECK(r.status == 0);
    CHECK(kubectl("-n team-a get networkpolicy orders-db").status == 0);
  }
  // --- Cilium: toEntities world refused, a documented bucket FQDN admitted
  {
    const auto r = tenant_apply("cilium-world", cilium_world);
    CAPTURE(r.out);
    CHECK(r.status != 0);
    CHECK(r.out.find("CiliumNetworkPolicy \"open-world\" allows egress to every address: "
                     "spec.egress[0].toEntities[0] world") != std::string::npos);
    const auto ok = tenant_apply("cilium-bucket", cilium_bucket);
    CAPTURE(ok.out);
    CHECK(ok.status == 0);
  }
  // --- the managed-by label exempts nothing: the tenant's planted copy is judged like any other
  {
    std::string planted = allow_all;
    planted.replace(planted.find("{name: allow-all, namespace: team-a}"),
                    std::string("{name: allow-all, namespace: team-a}").size(),
                    "{name: planted, namespace: team-a, labels: "
                    "{app.kubernetes.io/managed-by: mlnetpol}}");
    const auto r = tenant_apply("planted", planted.c_str());
    CAPTURE(r.out);
    CHECK(r.status != 0);
    CHECK(r.out.find("allows egress to every address") != std::string::npos);
  }
  // --- an admin (system:masters, in admin_groups) may; the tenant may not then widen it further
  {
    write_text(c.dir + "/admin-allow-all.yaml", allow_all);
    const auto r = kubectl("apply -f " + shell_quote(c.dir + "/admin-allow-all.yaml"));
    CAPTURE(r.out);
    CHECK(r.status == 0);
    const auto edit = as_tenant("-n team-a label networkpolicy allow-all touched=yes");
    CAPTURE(edit.out);
    CHECK(edit.status != 0);
    CHECK(edit.out.find("allows egress to every address") != std::string::npos);
    CHECK(as_tenant("-n team-a delete networkpolicy allow-all").status == 0);  // always possible
  }
  // --- outside secured namespaces nothing is judged (the tenant has no rights there: admin)
  {
    write_text(c.dir + "/team-b.yaml", std::string(allow_all).replace(
                                           std::string(allow_all).find("team-a"), 6, "team-b"));
    CHECK(kubectl("apply -f " + shell_quote(c.dir + "/team-b.yaml")).status == 0);
  }
  // --- counted, by rule and the guardrail mode
  CHECK(a.metric("mlnetpol_policy_violations_total{rule=\"tenant-policy-egress-all\","
                 "mode=\"enforce\"}") >= 3);
  CHECK(a.metric("mlnetpol_policy_violations_total{rule=\"tenant-policy-exception-undocumented\","
                 "mode=\"enforce\"}") >= 1);
}
