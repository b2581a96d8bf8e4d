#include "policy/policy_report.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <rapidjson/document.h>

#include "tests/support/files.hpp"

using namespace mlnetpol::policy;

namespace {

// JSON written with single quotes, turned into JSON.
rapidjson::Document doc(std::string text) {
  std::replace(text.begin(), text.end(), '\'', '"');
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

rapidjson::Document parsed(const policy_report& r) {
  rapidjson::Document d;
  d.Parse(r.json.c_str(), r.json.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

rapidjson::Document pod(const std::string& name, const std::string& labels,
                        const std::string& spec_extra = "") {
  return doc("{'metadata':{'name':'" + name + "','uid':'uid-" + name + "','labels':{" + labels +
             "}},'spec':{" + spec_extra + "'containers':[{'name':'c','image':'busybox'}]}}");
}

const char* allow_all_np =
    "{'metadata':{'name':'allow-all','uid':'uid-np'},'spec':{'podSelector':{},"
    "'policyTypes':['Ingress','Egress'],'ingress':[{}],'egress':[{}]}}";

// The findings of the example namespace "mlops" (ML training and inference, secured): a hostNetwork
// pod, a pod with a workload type no rule allows, a good pod, a tenant allow-all, a narrow and
// documented tenant policy and a managed policy.
namespace_findings example(const config& cfg) {
  namespace_findings f;
  f.namespace_name = "mlops";
  judge_pod(pod("host", "'workload-type':'training'", "'hostNetwork':true,"), cfg, f);
  judge_pod(pod("miner", "'workload-type':'gpu-miner'"), cfg, f);
  judge_pod(pod("good", "'workload-type':'training'"), cfg, f);
  judge_tenant_policy(tenant_policy_kind::network_policy, doc(allow_all_np), f);
  judge_tenant_policy(
      tenant_policy_kind::network_policy,
      doc("{'metadata':{'name':'to-db','annotations':{'mlnetpol.io/exception-reason':'db'}},"
          "'spec':{'podSelector':{},'policyTypes':['Egress'],'egress':[{'to':[{'ipBlock':"
          "{'cidr':'10.1.2.3/32'}}]}]}}"),
      f);
  judge_tenant_policy(
      tenant_policy_kind::network_policy,
      doc("{'metadata':{'name':'default-deny-egress','labels':{'app.kubernetes.io/managed-by':"
          "'mlnetpol'}},'spec':{'podSelector':{},'egress':[{}]}}"),
      f);
  return f;
}

}  // namespace

TEST_CASE("policy report: one result per breaking object, judged by the webhook's rules") {
  const config cfg;
  const namespace_findings f = example(cfg);
  REQUIRE(f.entries.size() == 3);
  CHECK(f.pods == 2);
  CHECK(f.tenant_policies == 1);
  CHECK(f.entries[0].name == "host");
  CHECK(f.entries[0].violations.front().rule == rule_host_network);
  CHECK(f.entries[1].name == "miner");
  CHECK(f.entries[1].violations.front().rule == rule_workload_type_not_allowed);
  CHECK(f.entries[2].kind == "NetworkPolicy");
  // The allow-all breaks three guardrails: still one entry, every rule in it.
  CHECK(f.entries[2].violations.size() == 3);

  const policy_report r = build_policy_report(f);
  CHECK(r.listed == 3);
  CHECK(r.omitted == 0);
  const rapidjson::Document d = parsed(r);
  CHECK(std::string(d["apiVersion"].GetString()) == "wgpolicyk8s.io/v1alpha2");
  CHECK(std::string(d["kind"].GetString()) == "PolicyReport");
  CHECK(std::string(d["metadata"]["namespace"].GetString()) == "mlops");
  CHECK(std::string(d["metadata"]["name"].GetString()) == "mlnetpol");
  const auto& results = d["results"];
  REQUIRE(results.Size() == 3);
  CHECK(d["summary"]["fail"].GetUint() == results.Size());
  CHECK(d["summary"]["pass"].GetUint() == 0);
  for (const auto& res : results.GetArray()) {
    CHECK(std::string(res["source"].GetString()) == "mlnetpol");
    CHECK(std::string(res["result"].GetString()) == "fail");
    CHECK(res["resources"].Size() == 1);
  }
  CHECK(std::string(results[2]["rule"].GetString()) ==
        "tenant-policy-egress-all,tenant-policy-ingress-all,tenant-policy-exception-undocumented");
}

TEST_CASE("policy report: exempt namespaces and clean objects give an empty report") {
  const config cfg;
  namespace_findings f;
  f.namespace_name = "kube-system";
  judge_pod(pod("host", "", "'hostNetwork':true,"), cfg, f);
  f.namespace_name = "mlops";
  judge_pod(pod("good", "'workload-type':'inference'"), cfg, f);
  CHECK(f.entries.empty());
  const policy_report r = build_policy_report(f);
  const rapidjson::Document d = parsed(r);
  CHECK(d["results"].Size() == 0);
  CHECK(d["summary"]["fail"].GetUint() == 0);
}

TEST_CASE("policy report: capped by count and by size, the summary counting what is listed") {
  const config cfg;
  namespace_findings f;
  f.namespace_name = "mlops";
  const std::string long_name(250, 'p');
  for (std::size_t i = 0; i < report_max_results + 500; ++i) {
    judge_pod(pod(long_name.substr(0, 240) + std::to_string(i), "'workload-type':'gpu-miner'",
                  "'hostNetwork':true,"),
              cfg, f);
  }
  REQUIRE(f.entries.size() == report_max_results + 500);
  const policy_report r = build_policy_report(f);
  // Long names and messages: the size cap binds before the count cap.
  CHECK(r.listed > 0);
  CHECK(r.listed < report_max_results);
  CHECK(r.listed + r.omitted == f.entries.size());
  // Well below etcd's 1.5 MiB limit.
  CHECK(r.json.size() < report_max_bytes + 4096);
  const rapidjson::Document d = parsed(r);
  CHECK(d["results"].Size() == r.listed);
  CHECK(d["summary"]["fail"].GetUint() == r.listed);
  CHECK(std::string(d["metadata"]["annotations"]["mlnetpol.io/results-omitted"].GetString()) ==
        std::to_string(r.omitted));
  for (const auto& res : d["results"].GetArray()) {
    CHECK(res["message"].GetStringLength() <= report_max_message);
  }
}

TEST_CASE("policy report: at most report_max_results results however small") {
  namespace_findings f;
  f.namespace_name = "mlops";
  for (std::size_t i = 0; i < report_max_results + 1; ++i) {
    report_entry e;
    e.policy = report_policy_pods;
    e.api_version = "v1";
    e.kind = "Pod";
    e.name = "p" + std::to_string(i);
    e.violations.push_back({"host-network", "x", "x"});
    f.entries.push_back(std::move(e));
  }
  const policy_report r = build_policy_report(f);
  CHECK(r.listed == report_max_results);
  CHECK(r.omitted == 1);
  CHECK(parsed(r)["summary"]["fail"].GetUint() == report_max_results);
}

// tests/policy/golden/policy_report.json: the example's report, which tests/manifests checks
// against the PolicyReport CRD's schema. Regenerate after an intended change with
//   MLNETPOL_UPDATE_GOLDEN=1 policy_tests -tc='policy report golden*'
TEST_CASE("policy report golden: the example report is the one checked against the CRD") {
  const config cfg;
  const std::string actual = build_policy_report(example(cfg)).json + "\n";
  const auto path = std::filesystem::path(MLNETPOL_SOURCE_DIR) / "tests" / "policy" / "golden" /
                    "policy_report.json";
  const char* update = std::getenv("MLNETPOL_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  REQUIRE(std::filesystem::exists(path));
  CHECK(mlnetpol::testing::read_text(path) == actual);
}
