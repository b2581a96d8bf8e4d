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
#include "tests/e2e/kapi.hpp"

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::run_command;
using mlnetpol::testing::shell_quote;
using nlohmann::json;

namespace {

const std::string binary = MLNETPOL_BINARY;
const std::string source = MLNETPOL_SOURCE_DIR;
constexpr k8s::resource pods{"", "v1", "pods", "Pod", true};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int free_port() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int p = 40000 + static_cast<int>(std::random_device{}() % 20000);
    if (mlnetpol::testing::port_free(p)) return p;
  }
  throw std::runtime_error("no free port");
}

bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds limit = 20s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return ok();
}

// manifests/base/webhooks.yaml with each Service reference turned into a URL on this host.
std::string local_webhooks(int port, const std::string& ca_b64) {
  std::istringstream in(read_text(source + "/manifests/base/webhooks.yaml"));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line == "    service:") {
      std::string path;
      for (int i = 0; i < 4 && std::getline(in, line); ++i) {
        if (line.find("path: ") != std::string::npos) path = line.substr(line.find("path: ") + 6);
      }
      out += "    url: https://127.0.0.1:" + std::to_string(port) + path + "\n";
      out += "    caBundle: " + ca_b64 + "\n";
      continue;
    }
    out += line + "\n";
  }
  return out;
}

// One `mlnetpol serve` process.
class replica {
 public:
  replica(std::string name, const std::string& dir, const std::string& kubeconfig,
          const std::string& config, const std::string& certs)
      : name_(std::move(name)), port_(free_port()), metrics_port_(free_port()) {
    log_ = dir + "/" + name_ + ".log";
    std::vector<std::string> args{binary,
                                  "serve",
                                  "--port",
                                  std::to_string(port_),
                                  "--bind-address",
                                  "127.0.0.1",
                                  "--metrics-bind-address",
                                  "127.0.0.1:" + std::to_string(metrics_port_),
                                  "--tls-cert-file",
                                  certs + "/tls.crt",
                                  "--tls-key-file",
                                  certs + "/tls.key",
                                  "--config",
                                  config,
                                  "--log-format",
                                  "text",
                                  "--log-denies=false",  // 1000 denials need no 1000 lines
                                  "--kubeconfig",
                                  kubeconfig,
                                  "--events=true",
                                  "--leader-elect-lease-duration",
                                  "4s",
                                  "--leader-elect-renew-deadline",
                                  "3s",
                                  "--leader-elect-retry-period",
                                  "500ms"};
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("POD_NAME", name_.c_str(), 1);
      ::setenv("POD_NAMESPACE", "mlnetpol-system", 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~replica() { stop(); }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  std::string get(const std::string& path) const {
    return run_command("curl -s --max-time 5 http://127.0.0.1:" + std::to_string(metrics_port_) +
                       path)
        .out;
  }
  bool ready() const { return get("/readyz").starts_with("ok"); }
  // A sample of /metrics by its full name with labels ("mlnetpol_events_total{result=\"sent\"}").
  double metric(const std::string& series) const {
    const std::string text = get("/metrics");
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }
  int port() const { return port_; }
  std::string log() const { return read_text(log_); }

 private:
  std::string name_;
  int port_;
  int metrics_port_;
  std::string log_;
  pid_t pid_ = 0;
};

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
  const std::string dir = kapi.dir();
  auto kubectl = [&](const std::string& args) { return kapi.kubectl(args + " 2>&1"); };

  // The project's own RBAC for the project's own service account.
  const std::string certs = dir + "/webhook-certs";
  REQUIRE(run_command(shell_quote(binary) + " certs --dev --out " + shell_quote(certs) +
                      " >/dev/null 2>&1")
              .status == 0);
  const std::string ca_b64 = trim(run_command("base64 -w0 " + shell_quote(certs + "/ca.crt")).out);
  REQUIRE(kubectl("create namespace mlnetpol-system").status == 0);
  REQUIRE(kubectl("-n mlnetpol-system create serviceaccount mlnetpol").status == 0);
  REQUIRE(kubectl("apply -f " + shell_quote(source + "/manifests/base/rbac.yaml")).status == 0);
  const std::string token =
      trim(kubectl("-n mlnetpol-system create token mlnetpol --duration=2h").out);
  REQUIRE(!token.empty());
  const std::string sa_kubeconfig = dir + "/sa.kubeconfig";
  write_file(sa_kubeconfig,
             "apiVersion: v1\nkind: Config\nclusters:\n- name: kapi\n  cluster:\n    server: " +
                 kapi.url() + "\n    certificate-authority: " + kapi.ca_file() +
                 "\nusers:\n- name: mlnetpol\n  user:\n    token: " + token +
                 "\ncontexts:\n- name: sa\n  context: {cluster: kapi, user: mlnetpol}\n"
                 "current-context: sa\n");
  const std::string config = dir + "/config.yaml";
  write_file(config,
             "platform_namespaces: [argocd]\ntenant_namespaces: []\nml_training_namespaces: "
             "[training]\nml_inference_namespaces: []\nenforcement_mode: enforce\n");
  REQUIRE(kubectl("create namespace argocd").status == 0);
  REQUIRE(kubectl("create namespace training").status == 0);
  REQUIRE(kubectl("-n training create serviceaccount default").status == 0);

  replica a("replica-a", dir, sa_kubeconfig, config, certs);
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  write_file(dir + "/webhooks.yaml", local_webhooks(a.port(), ca_b64));
  {
    const auto r = kubectl("apply -f " + shell_quote(dir + "/webhooks.yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }
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
    write_file(dir + "/metrics.txt", a.get("/metrics"));
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
