// What already runs is reported (issue 20) against the real kube-apiserver v1.28.7: `mlnetpol
// serve` with the project's RBAC writes one PolicyReport per secured namespace (the CRD of
// manifests/components/policy-report, whose structural schema the API server enforces) listing
// the pods and tenant policies that break the rules: those created before mlnetpol ran, then every
// change; fixed objects leave it, a namespace leaving the lists loses it, and without the CRD the
// metrics and /status still count. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/e2e/cluster.hpp"
#include "tests/e2e/tenant.hpp"
#include "tests/support/kapi.hpp"

using mlnetpol::testing::kapi_server;
using mlnetpol::testing::shell_quote;
using namespace mlnetpol::testing::e2e;

namespace {

constexpr const char* allow_all = allow_all_team_a;

// A report the schema must refuse: a result that is not one of pass/fail/warn/error/skip.
constexpr const char* broken_report = R"yaml(apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: broken, namespace: team-a}
results:
  - {policy: p, result: failed, source: mlnetpol}
)yaml";

// team-a an ML training namespace (its pods' workload-type is judged), team-b a tenant one (its
// pods' hostNetwork is).
std::string config_securing(const std::string& training) {
  return "platform_namespaces: []\ntenant_namespaces: [team-b]\nml_training_namespaces: [" +
         training +
         "]\nml_inference_namespaces: []\nenforcement_mode: enforce\n"
         "tenant_policy_guardrails: audit\n";
}

const std::string host_network =
    "--overrides='{\"apiVersion\":\"v1\",\"spec\":{\"hostNetwork\":true}}'";

}  // namespace

TEST_CASE("e2e: pods and tenant policies breaking the rules are listed in the PolicyReport") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("policy report e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  auto kubectl = [&](const std::string& args) { return c.kubectl(args); };
  auto apply = [&](const std::string& name, const std::string& yaml) {
    write_text(c.dir + "/" + name + ".yaml", yaml);
    return kubectl("apply -f " + shell_quote(c.dir + "/" + name + ".yaml"));
  };
  {
    const auto r = kubectl("apply -f " + shell_quote(source + "/manifests/components/policy-report/"
                                                              "policyreport-crd.yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
    REQUIRE(kubectl("wait --for condition=established --timeout=30s "
                    "crd/policyreports.wgpolicyk8s.io")
                .status == 0);
  }
  c.set_config(config_securing("team-a"));
  REQUIRE(kubectl("create namespace team-a").status == 0);
  REQUIRE(kubectl("create namespace team-b").status == 0);
  for (const char* ns : {"team-a", "team-b"})  // no controller-manager: pods need it made
    REQUIRE(kubectl(std::string("-n ") + ns + " create serviceaccount default").status == 0);
  // Before mlnetpol runs (no webhook): what it must find already running.
  REQUIRE(kubectl("-n team-a run miner --image=nginx --restart=Never "
                  "--labels=workload-type=gpu-miner")
              .status == 0);
  REQUIRE(kubectl("-n team-a run web --image=nginx --restart=Never --labels=workload-type=training")
              .status == 0);
  REQUIRE(apply("allow-all", allow_all).status == 0);

  // The guard would hold dropping team-a from the lists (50 % of the namespaces holding policies).
  replica a("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs,
            {"--prune-guard-percent", "100"});
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  c.register_webhooks(a.port());
  INFO("replica-a log:\n" << a.log());

  auto report = [&](const std::string& ns) {
    const auto r = kubectl("-n " + ns + " get policyreport mlnetpol -o json");
    if (r.status != 0) return nlohmann::json();
    return nlohmann::json::parse(r.out, nullptr, false);
  };
  // kind/name of every result; the summary must count exactly them.
  auto listed = [&](const std::string& ns) {
    std::set<std::string> out;
    const auto r = report(ns);
    if (!r.is_object()) return std::set<std::string>{"<no report>"};
    const auto& results = r.value("results", nlohmann::json::array());
    if (r["summary"].value("fail", -1) != static_cast<int>(results.size()))
      return std::set<std::string>{"<summary does not match>"};
    for (const auto& result : results)
      out.insert(result["resources"][0]["kind"].get<std::string>() + "/" +
                 result["resources"][0]["name"].get<std::string>());
    return out;
  };
  auto status = [&] { return nlohmann::json::parse(a.get("/status"), nullptr, false); };

  // --- on start: the pod with a workload type no rule allows and the tenant's allow-all
  const std::set<std::string> both{"NetworkPolicy/allow-all", "Pod/miner"};
  CHECK_MESSAGE(eventually([&] { return listed("team-a") == both; }, 30s),
                report("team-a").dump(2));
  {
    const auto r = report("team-a");
    CHECK(r["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlnetpol");
    CHECK(r["scope"]["kind"] == "Namespace");
    for (const auto& result : r["results"]) {
      CHECK(result["source"] == "mlnetpol");
      CHECK(result["result"] == "fail");
      CHECK(result["resources"][0]["namespace"] == "team-a");
    }
    CHECK(r["results"].dump().find("gpu-miner") != std::string::npos);
    CHECK(r["results"].dump().find("tenant-policy-egress-all") != std::string::npos);
  }
  // team-b runs nothing wrong: an empty report (Policy Reporter shows it as clean).
  CHECK(eventually([&] { return listed("team-b").empty(); }, 20s));
  CHECK(a.metric("mlnetpol_policy_report_objects{kind=\"Pod\"}") == 1);
  CHECK(a.metric("mlnetpol_policy_report_objects{kind=\"NetworkPolicy\"}") == 1);
  {
    const auto s = status();
    CHECK(s["policy_reports"]["namespaces"]["team-a"]["pods"] == 1);
    CHECK(s["policy_reports"]["namespaces"]["team-a"]["tenant_policies"] == 1);
    CHECK(s["policy_reports"]["crd_missing"] == false);
  }
  // The API server enforces the CRD's structural schema: a result outside its enum is refused, so
  // every report it stored above is one Policy Reporter can read.
  {
    const auto r = apply("broken-report", broken_report);
    CHECK(r.status != 0);
    CHECK(r.out.find("result") != std::string::npos);
  }

  // --- every change: a pod admitted while an administrator set the namespace to audit appears
  REQUIRE(kubectl("label ns team-a mlnetpol.io/enforcement=audit").status == 0);
  REQUIRE(eventually([&] {
    return kubectl(
               "-n team-a run miner2 --image=nginx --restart=Never "
               "--labels=workload-type=gpu-miner")
               .status == 0;
  }));
  CHECK(eventually([&] { return listed("team-a").contains("Pod/miner2"); }, 20s));
  REQUIRE(kubectl("label ns team-a mlnetpol.io/enforcement-").status == 0);  // back to enforce

  // --- fixed or deleted: gone from the report
  REQUIRE(kubectl("-n team-a delete pod miner miner2 --wait=false").status == 0);
  REQUIRE(kubectl("-n team-a delete networkpolicy allow-all").status == 0);
  CHECK_MESSAGE(eventually([&] { return listed("team-a").empty(); }, 20s),
                report("team-a").dump(2));
  CHECK(a.metric("mlnetpol_policy_report_objects{kind=\"Pod\"}") == 0);

  // --- a namespace leaving the lists loses its report (only mlnetpol's; team-b keeps its own)
  c.set_config(config_securing(""));
  a.reload();
  CHECK_MESSAGE(
      eventually([&] { return kubectl("-n team-a get policyreport mlnetpol").status != 0; }, 30s),
      a.log());
  CHECK(kubectl("-n team-b get policyreport mlnetpol").status == 0);
  CHECK(a.metric("mlnetpol_policy_report_writes_total{result=\"deleted\"}") >= 1);
  CHECK(a.metric("mlnetpol_policy_report_writes_total{result=\"failed\"}") == 0);

  // --- without the CRD: nothing written, metrics and /status still count
  REQUIRE(kubectl("delete crd policyreports.wgpolicyk8s.io").status == 0);
  REQUIRE(kubectl("-n team-b run host --image=nginx --restart=Never " + host_network).status !=
          0);  // enforce: refused at admission...
  REQUIRE(kubectl("label ns team-b mlnetpol.io/enforcement=audit").status == 0);
  REQUIRE(eventually([&] {
    return kubectl("-n team-b run host --image=nginx --restart=Never " + host_network).status == 0;
  }));  // ...in audit: admitted, and counted
  CHECK(eventually([&] { return a.metric("mlnetpol_policy_report_objects{kind=\"Pod\"}") == 1; },
                   20s));
  CHECK(eventually([&] { return a.metric("mlnetpol_policy_report_crd_missing") == 1; }, 20s));
  CHECK(
      eventually([&] { return status()["policy_reports"]["namespaces"]["team-b"]["pods"] == 1; }));
  CHECK(status()["policy_reports"]["crd_missing"] == true);
  CHECK(a.log().find("PolicyReport CRD (policyreports.wgpolicyk8s.io) not installed") !=
        std::string::npos);
}
