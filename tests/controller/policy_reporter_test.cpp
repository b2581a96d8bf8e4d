#include "controller/policy_reporter.hpp"

#include <functional>
#include <thread>

#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "tests/controller/fake_cluster.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::eventually;
using controller::testing::fake_cluster;

namespace {

// ML training namespaces: where the workload-type label is judged.
std::shared_ptr<const desired_state> securing(std::vector<std::string> training) {
  policy::config cfg;
  cfg.platform_namespaces = {};
  cfg.ml_training_namespaces = std::move(training);
  cfg.ml_inference_namespaces = {};
  return std::make_shared<const desired_state>(std::move(cfg));
}

// The names of the report's results ("" when there is no report); summary.fail must count them.
std::string results(fake_cluster& api, const std::string& ns) {
  const auto report = api.find("PolicyReport", ns, "mlnetpol");
  if (!report) return "";
  rapidjson::Document d;
  d.Parse(report->json.c_str(), report->json.size());
  REQUIRE_FALSE(d.HasParseError());
  std::string out = "[";
  for (const auto& r : d["results"].GetArray())
    out += std::string(r["resources"][0]["name"].GetString()) + ",";
  if (d["summary"]["fail"].GetUint() != d["results"].Size()) return "summary does not match";
  return out + "]";
}

struct reporter_fixture {
  fake_cluster api;
  namespace_cache cache;
  std::atomic<bool> leader{true};
  std::unique_ptr<policy_reporter> reporter;

  reporter_fixture() {
    api.add_namespace("team-a");
    api.add_namespace("team-b");
    cache.replace({{"team-a", {}}, {"team-b", {}}});
    policy_reporter_options o;
    o.informers.min_backoff = 10ms;
    o.informers.max_backoff = 50ms;
    o.debounce = 20ms;
    reporter = std::make_unique<policy_reporter>(
        api, api, cache, [this] { return leader.load(); }, o);
  }
  ~reporter_fixture() {
    reporter->request_stop();
    api.cancel();
    reporter->join();
  }
  std::string metrics() const {
    std::string out;
    reporter->render_metrics(out);
    return out;
  }
};

constexpr const char* container = R"({"containers":[{"name":"c","image":"nginx"}]})";
constexpr const char* allow_all =
    R"({"podSelector":{},"policyTypes":["Ingress","Egress"],"ingress":[{}],"egress":[{}]})";

}  // namespace

TEST_CASE("judge_object: a pod and a tenant policy as the watches deliver them") {
  const auto want = securing({"team-a"});
  k8s::object_meta pod;
  pod.namespace_name = "team-a";
  pod.name = "miner";
  pod.labels = {{"workload-type", "gpu-miner"}};
  pod.spec = container;
  const auto entry = judge_object(k8s::pods, pod, want->config());
  REQUIRE(entry);
  CHECK(entry->kind == "Pod");
  CHECK(entry->violations.at(0).message.find("gpu-miner") != std::string::npos);
  pod.labels = {{"workload-type", "training"}};
  CHECK_FALSE(judge_object(k8s::pods, pod, want->config()));

  // A Cilium policy's allow-all hidden in `specs` is judged like one in `spec`.
  k8s::object_meta cnp;
  cnp.namespace_name = "team-a";
  cnp.name = "open";
  cnp.specs = R"([{"endpointSelector":{},"egress":[{"toEntities":["world"]}]}])";
  const auto found = judge_object(k8s::cilium_network_policies, cnp, want->config());
  REQUIRE(found);
  CHECK(found->violations.at(0).rule == "tenant-policy-egress-all");
}

TEST_CASE("policy reporter: reports what runs, follows changes, deletes a report leaving the set") {
  reporter_fixture f;
  auto& api = f.api;
  api.put_object("Pod", "team-a", "miner", {{"workload-type", "gpu-miner"}}, {}, "kubectl",
                 container);
  api.put_object("Pod", "team-a", "web", {{"workload-type", "training"}}, {}, "kubectl", container);
  api.put_object("NetworkPolicy", "team-a", "allow-all", {}, {}, "kubectl", allow_all);
  f.reporter->start();
  f.reporter->sync(securing({"team-a", "team-b"}), true);
  CHECK(eventually([&] { return results(api, "team-a") == "[allow-all,miner,]"; }));
  CHECK(eventually([&] { return results(api, "team-b") == "[]"; }));
  CHECK(f.metrics().find("mlnetpol_policy_report_objects{kind=\"Pod\"} 1") != std::string::npos);

  // A change: a new pod that breaks the rules is listed, and a burst of them writes once.
  const auto writes_before = api.writes();
  for (int i = 0; i < 5; ++i)
    api.put_object("Pod", "team-b", "m" + std::to_string(i), {{"workload-type", "x"}}, {},
                   "kubectl", container);
  CHECK(eventually([&] { return results(api, "team-b") == "[m0,m1,m2,m3,m4,]"; }));
  std::this_thread::sleep_for(100ms);
  CHECK(api.writes() - writes_before <= 2);
  // A status update (same verdict) writes nothing.
  const auto writes_after = api.writes();
  api.put_object("Pod", "team-b", "m0", {{"workload-type", "x"}}, {}, "kubelet", "");
  std::this_thread::sleep_for(150ms);
  CHECK(api.writes() == writes_after);

  // Fixed or deleted: gone.
  api.delete_object("Pod", "team-a", "miner");
  api.delete_object("NetworkPolicy", "team-a", "allow-all");
  CHECK(eventually([&] { return results(api, "team-a") == "[]"; }));

  // Someone deletes our report: written again.
  api.delete_object("PolicyReport", "team-a", "mlnetpol");
  CHECK(eventually([&] { return results(api, "team-a") == "[]"; }));

  // team-a leaves the secured set: its report is deleted, team-b's stays.
  f.reporter->sync(securing({"team-b"}), false);
  CHECK(eventually([&] { return results(api, "team-a").empty(); }));
  CHECK(results(api, "team-b") == "[m0,m1,m2,m3,m4,]");
  CHECK(eventually([&] {
    return f.metrics().find("mlnetpol_policy_report_writes_total{result=\"deleted\"} 1") !=
           std::string::npos;
  }));
}

TEST_CASE("policy reporter: no CRD, no writes and no retry loop; the counts stay") {
  reporter_fixture f;
  auto& api = f.api;
  api.set_served("PolicyReport", false);
  api.put_object("Pod", "team-a", "miner", {{"workload-type", "gpu-miner"}}, {}, "kubectl",
                 container);
  f.reporter->start();
  f.reporter->sync(securing({"team-a"}), true);
  CHECK(eventually([&] {
    return f.metrics().find("mlnetpol_policy_report_crd_missing 1") != std::string::npos;
  }));
  CHECK(eventually([&] {
    return f.metrics().find("mlnetpol_policy_report_objects{kind=\"Pod\"} 1") != std::string::npos;
  }));
  api.put_object("Pod", "team-a", "miner2", {{"workload-type", "gpu-miner"}}, {}, "kubectl",
                 container);
  CHECK(eventually([&] {
    return f.metrics().find("mlnetpol_policy_report_objects{kind=\"Pod\"} 2") != std::string::npos;
  }));
  std::this_thread::sleep_for(200ms);
  std::size_t applies = 0;
  for (const auto& call : api.calls()) applies += call.starts_with("apply PolicyReport") ? 1 : 0;
  CHECK(applies <= 1);  // at most the one that found the CRD missing: no retry loop
  CHECK_FALSE(api.find("PolicyReport", "team-a", "mlnetpol"));
  CHECK(f.metrics().find("mlnetpol_policy_report_writes_total{result=\"failed\"} 0") !=
        std::string::npos);

  // The CRD installed: the watch lists it and the report is written.
  api.set_served("PolicyReport", true);
  CHECK(eventually([&] { return results(api, "team-a") == "[miner,miner2,]"; }));
  CHECK(f.metrics().find("mlnetpol_policy_report_crd_missing 0") != std::string::npos);
}

TEST_CASE("policy reporter: a follower writes nothing") {
  reporter_fixture f;
  f.leader = false;
  f.api.put_object("Pod", "team-a", "miner", {{"workload-type", "gpu-miner"}}, {}, "kubectl",
                   container);
  f.reporter->start();
  f.reporter->sync(securing({"team-a"}), true);
  std::this_thread::sleep_for(200ms);
  CHECK_FALSE(f.api.find("PolicyReport", "team-a", "mlnetpol"));
}

TEST_CASE("policy reporter: a namespace going away is not retried; a refused write is") {
  reporter_fixture f;
  auto& api = f.api;
  api.set_terminating("team-a");
  api.fail_next("apply PolicyReport team-b/",
                controller::testing::make_error(k8s::failure_kind::forbidden, 403, "cannot create"));
  f.reporter->start();
  f.reporter->sync(securing({"team-a", "team-b"}), true);
  CHECK(eventually([&] { return results(api, "team-b") == "[]"; }));  // written on the retry
  std::this_thread::sleep_for(200ms);
  std::size_t team_a_applies = 0;
  for (const auto& call : api.calls())
    team_a_applies += call.starts_with("apply PolicyReport team-a/") ? 1 : 0;
  CHECK(team_a_applies == 1);
  CHECK(f.metrics().find("mlnetpol_policy_report_writes_total{result=\"failed\"} 1") !=
        std::string::npos);
}
