// Kubernetes Events against the real kube-apiserver v1.28.7 (kapi): `mlnetpol serve` runs with the
// project's own RBAC (manifests/base/rbac.yaml) and a bound service-account token, its webhooks
// registered with the API server. A reconcile reports PolicySetApplied, a denied Pod a
// WorkloadDenied Warning (a dry run none), and a burst of 1000 denials a bounded number of Event
// writes whose counts arrive as series. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

constexpr k8s::resource pods{"", "v1", "pods", "Pod", true};

// Events (events.k8s.io/v1) in a namespace, as the API server holds them.
std::vector<json> events_in(const kapi_server& kapi, const std::string& ns) {
  const auto r = kapi.kubectl("get events.events.k8s.io -n " + ns + " -o json 2>/dev/null");
  const auto list = json::parse(r.out, nullptr, false);
  if (!list.is_object() || !list.contains("items")) return {};
  return list["items"].get<std::vector<json>>();
}

std::vector<json> with(const std::vector<json>& events, const std::string& reason,
                       const std::string& regarding_name) {
  std::vector<json> out;
  for (const auto& e : events)
    if (e.value("reason", "") == reason && e["regarding"].value("name", "") == regarding_name)
      out.push_back(e);
  return out;
}

std::string host_network_pod(const std::string& name) {
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"hostNetwork", true},
                {"containers", json::array({{{"name", "main"}, {"image", "nginx"}}})}}}}
      .dump();
}

}  // namespace

TEST_CASE("e2e: Kubernetes Events against the real kube-apiserver") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("events e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  const std::string& dir = c.dir;
  auto kubectl = [&](const std::string& args) { return c.kubectl(args); };
  const std::string& config = c.config;
  write_text(config,
             "platform_namespaces: [argocd]\ntenant_namespaces: []\nml_training_namespaces: "
             "[training]\nml_inference_namespaces: []\nenforcement_mode: enforce\n");
  REQUIRE(kubectl("create namespace argocd").status == 0);
  REQUIRE(kubectl("create namespace training").status == 0);
  REQUIRE(kubectl("-n training create serviceaccount default").status == 0);

  replica a("replica-a", dir, c.sa_kubeconfig, config, c.certs,
            {"--log-denies=false",  // 1000 denials need no 1000 lines
             "--events=true"});
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  c.register_webhooks(a.port());
  INFO("replica-a log:\n" << a.log());

  // --- a reconcile reports PolicySetApplied, regarding the Namespace (its event in default)
  REQUIRE(eventually(
      [&] { return !with(events_in(kapi, "default"), "PolicySetApplied", "argocd").empty(); }));
  {
    const json e = with(events_in(kapi, "default"), "PolicySetApplied", "argocd")[0];
    CHECK(e["type"] == "Normal");
    CHECK(e["reportingController"] == "mlnetpol.io/reconciler");
    CHECK(e["reportingInstance"] == "replica-a");
    CHECK(e["action"] == "Reconcile");
    CHECK(e["regarding"]["kind"] == "Namespace");
    CHECK(e["note"].get<std::string>().find("policy set applied") != std::string::npos);
    CHECK(e["eventTime"].get<std::string>().size() == 27);  // MicroTime
  }

  // --- a denied Pod: a Warning regarding the Pod, in its namespace, with the user's message
  const auto denied = kubectl(
      "-n training run hostnet --image=nginx --restart=Never "
      "--overrides='{\"apiVersion\":\"v1\",\"spec\":{\"hostNetwork\":true}}'");
  REQUIRE_MESSAGE(denied.status != 0, denied.out);
  REQUIRE(eventually(
      [&] { return !with(events_in(kapi, "training"), "WorkloadDenied", "hostnet").empty(); }));
  {
    const json e = with(events_in(kapi, "training"), "WorkloadDenied", "hostnet")[0];
    CHECK(e["type"] == "Warning");
    CHECK(e["reportingController"] == "mlnetpol.io/webhook");
    CHECK(e["action"] == "Deny");
    CHECK(e["regarding"] == json{{"apiVersion", "v1"},
                                 {"kind", "Pod"},
                                 {"namespace", "training"},
                                 {"name", "hostnet"}});
    const std::string note = e["note"];
    CHECK(note.find("hostNetwork") != std::string::npos);
    CHECK(denied.out.find(note.substr(0, 40)) != std::string::npos);  // what the user was told
    // Visible the way people look: kubectl events.
    CHECK(kubectl("-n training events --for pod/hostnet").out.find("WorkloadDenied") !=
          std::string::npos);
  }
  // A dry run changes nothing, so it leaves no event.
  {
    const auto dry = kubectl(
        "-n training run dry --dry-run=server --image=nginx --restart=Never "
        "--overrides='{\"apiVersion\":\"v1\",\"spec\":{\"hostNetwork\":true}}'");
    CHECK_MESSAGE(dry.status != 0, dry.out);
    std::this_thread::sleep_for(1500ms);
    CHECK(with(events_in(kapi, "training"), "WorkloadDenied", "dry").empty());
  }

  // --- 1000 denials in a burst (10 pods, 100 tries each): 10 events, their counts as series
  const double sent_before = a.metric(R"(mlnetpol_events_total{result="sent"})");
  const double aggregated_before = a.metric(R"(mlnetpol_events_total{result="aggregated"})");
  REQUIRE(sent_before >= 2);
  auto admin_rest = k8s::load_kubeconfig(kapi.kubeconfig());
  REQUIRE(admin_rest.has_value());
  k8s::client admin(*admin_rest);
  int refused = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    const auto r =
        admin.create(pods, "training", host_network_pod("burst-" + std::to_string(i % 10)));
    if (!r) ++refused;
  }
  MESSAGE("1000 denied creates: " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()
                                  << " ms");
  CHECK(refused == 1000);
  REQUIRE(eventually([&] {
    return a.metric(R"(mlnetpol_events_total{result="aggregated"})") - aggregated_before >= 990;
  }));
  const double sent_burst = a.metric(R"(mlnetpol_events_total{result="sent"})") - sent_before;
  MESSAGE("Event writes for the burst: " << sent_burst);
  // One create per pod; their counts wait for the series interval (30 s), so at most one patch
  // each if the burst took longer.
  CHECK(sent_burst >= 10);
  CHECK(sent_burst <= 20);
  CHECK(a.metric(R"(mlnetpol_events_total{result="aggregated"})") - aggregated_before == 990);
  CHECK(a.metric(R"(mlnetpol_events_total{result="dropped"})") == 0);
  CHECK(a.metric(R"(mlnetpol_events_total{result="failed"})") == 0);
  // The exposition stays clean with the events family in it.
  if (run_command("command -v promtool >/dev/null").status == 0) {
    write_text(dir + "/metrics.txt", a.get("/metrics"));
    const auto check =
        run_command("promtool check metrics < " + shell_quote(dir + "/metrics.txt") + " 2>&1");
    CHECK_MESSAGE(check.status == 0, check.out);
  }

  // Stopping writes the counts the API server does not have yet: one patch per series.
  a.stop();
  const auto training = events_in(kapi, "training");
  std::size_t burst_events = 0;
  for (int p = 0; p < 10; ++p) {
    const auto found = with(training, "WorkloadDenied", "burst-" + std::to_string(p));
    burst_events += found.size();
    REQUIRE(found.size() == 1);
    CHECK(found[0]["series"]["count"] == 100);
    CHECK(found[0]["series"]["lastObservedTime"].get<std::string>().size() == 27);
  }
  CHECK(burst_events == 10);
  CHECK(a.log().find("RBAC must grant") == std::string::npos);
}
