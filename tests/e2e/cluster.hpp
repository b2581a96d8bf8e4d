#pragma once
// What the e2e suites share: `mlnetpol serve` replicas as local processes and a cluster fixture on
// the real kube-apiserver (kapi) with the project's own RBAC, a bound service-account token, a dev
// serving certificate and the manifests' webhooks pointed at a replica.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kapi.hpp"

namespace mlnetpol::testing::e2e {

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;

inline const std::string binary = MLNETPOL_BINARY;
inline const std::string source = MLNETPOL_SOURCE_DIR;
inline const std::string managed = "app.kubernetes.io/managed-by=mlnetpol";

// The support helpers, as e2e:: names too (the tests name them qualified).
using mlnetpol::testing::read_text;
using mlnetpol::testing::write_text;


inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

inline std::string tail_of(const std::string& path, std::size_t n = 3000) {
  const std::string text = read_text(path);
  return text.size() > n ? text.substr(text.size() - n) : text;
}

inline int free_port() {
  // Never the same port twice in one run (a stopped replica's port is not reused by the next).
  static int next = 30000 + static_cast<int>(::getpid() % 1500) * 19;
  for (;; next += 11) {
    if (next > 60000) next = 30000;
    if (port_free(next)) {
      next += 11;
      return next - 11;
    }
  }
}

// The shared poll, every 100 ms: each look asks the real API server (or runs kubectl), which the
// replicas under test share the machine with.
inline bool eventually(const std::function<bool()>& ok,
                       std::chrono::milliseconds limit = mlnetpol::testing::eventually_limit) {
  return mlnetpol::testing::eventually(ok, limit, 100ms);
}

// manifests/base/webhooks.yaml with each Service reference turned into a URL on this host; without
// a caBundle when ca_b64 is empty (a self-managing leader fills it in, as in a cluster).
inline std::string local_webhooks(int port, const std::string& ca_b64 = "") {
  std::istringstream in(read_text(source + "/manifests/base/webhooks.yaml"));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line == "    service:") {
      std::string path;
      for (int i = 0; i < 4 && std::getline(in, line); ++i) {
        if (line.find("path: ") != std::string::npos) path = line.substr(line.find("path: ") + 6);
      }
      out += "    url: https://127.0.0.1:" + std::to_string(port) + path + "\n";
      if (!ca_b64.empty()) out += "    caBundle: " + ca_b64 + "\n";
      continue;
    }
    out += line + "\n";
  }
  return out;
}

// The project's own namespace, ServiceAccount and RBAC (manifests/base), and a kubeconfig at
// `path` with a bound token of that ServiceAccount: what a replica runs as in a cluster (never
// system:masters).
inline void install_service_account(const kapi_server& kapi, const std::string& path) {
  for (const char* file : {"namespace.yaml", "serviceaccount.yaml", "rbac.yaml"}) {
    const auto r =
        kapi.kubectl("apply -f " + shell_quote(source + "/manifests/base/" + file) + " 2>&1");
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }
  const auto token = kapi.kubectl("-n mlnetpol-system create token mlnetpol --duration=2h");
  REQUIRE(token.status == 0);
  REQUIRE(!trim(token.out).empty());
  write_text(path, "apiVersion: v1\nkind: Config\nclusters:\n- name: kapi\n  cluster:\n"
                   "    server: " +
                       kapi.url() + "\n    certificate-authority: " + kapi.ca_file() +
                       "\nusers:\n- name: mlnetpol\n  user:\n    token: " + trim(token.out) +
                       "\ncontexts:\n- name: sa\n  context: {cluster: kapi, user: "
                       "mlnetpol}\ncurrent-context: sa\n");
}

// One `mlnetpol serve` process (a replica).
class replica {
 public:
  replica(std::string name, const std::string& dir, const std::string& kubeconfig,
          const std::string& config, const std::string& certs,
          const std::vector<std::string>& extra_args = {})
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
                                  "--kubeconfig",
                                  kubeconfig,
                                  "--resync-period",
                                  "30s",
                                  "--leader-elect-lease-duration",
                                  "4s",
                                  "--leader-elect-renew-deadline",
                                  "3s",
                                  "--leader-elect-retry-period",
                                  "500ms"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
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
  void reload() { ::kill(pid_, SIGHUP); }
  // Frozen (SIGSTOP) and thawed: a leader that is slow for a moment, for races a test must win.
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }
  void terminate() { ::kill(pid_, SIGTERM); }  // as the kubelet does; stop() waits for the exit
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

  std::string get(const std::string& path) const {
    return run_command("curl -s --max-time 5 http://127.0.0.1:" + std::to_string(metrics_port_) +
                       path)
        .out;
  }
  bool ready() const { return get("/readyz").starts_with("ok"); }
  bool leader() const { return get("/metrics").find("\nmlnetpol_leader 1") != std::string::npos; }
  // A sample of /metrics by its full name with labels ("mlnetpol_events_total{result=\"sent\"}").
  double metric(const std::string& series) const {
    const std::string text = get("/metrics");
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }
  const std::string& name() const { return name_; }
  int port() const { return port_; }
  std::string log() const { return read_text(log_); }

 private:
  std::string name_;
  int port_;
  int metrics_port_;
  std::string log_;
  pid_t pid_ = 0;
};

struct cluster_fixture {
  kapi_server& kapi;
  std::string dir;
  std::string certs;
  std::string ca_b64;
  std::string sa_kubeconfig;
  std::string config;
  std::unique_ptr<k8s::client> admin;

  explicit cluster_fixture(kapi_server& k) : kapi(k), dir(k.dir()) {
    certs = dir + "/webhook-certs";
    REQUIRE(run_command(shell_quote(binary) + " certs --dev --out " + shell_quote(certs) +
                        " >/dev/null 2>&1")
                .status == 0);
    ca_b64 = trim(run_command("base64 -w0 " + shell_quote(certs + "/ca.crt")).out);
    sa_kubeconfig = dir + "/sa.kubeconfig";
    install_service_account(kapi, sa_kubeconfig);
    config = dir + "/config.yaml";
    auto rest = k8s::load_kubeconfig(kapi.kubeconfig());
    REQUIRE(rest.has_value());
    admin = std::make_unique<k8s::client>(*rest);
  }

  mlnetpol::testing::command_result kubectl(const std::string& args) const {
    return kapi.kubectl(args + " 2>&1");
  }

  void register_webhooks(int port) {
    write_text(dir + "/webhooks.yaml", local_webhooks(port, ca_b64));
    const auto r = kubectl("apply -f " + shell_quote(dir + "/webhooks.yaml"));
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }

  void set_config(const std::string& yaml) { write_text(config, yaml); }

  std::set<std::string> names(const k8s::resource& r, const std::string& ns) {
    std::set<std::string> out;
    auto page = admin->list_all(r, ns, managed);
    if (!page) return out;
    for (const auto& item : page->items) out.insert(item.name);
    return out;
  }
  std::map<std::string, std::string> labels(const std::string& ns) {
    auto got = admin->get(k8s::namespaces, "", ns);
    return got ? got->labels : std::map<std::string, std::string>{};
  }
  // What `mlnetpol render` says namespace ns must hold under the current config: kind/name.
  std::set<std::string> desired(const std::string& ns) {
    const auto r = run_command(shell_quote(binary) + " render --config " + shell_quote(config) +
                               " --namespace " + ns + " -o json");
    std::set<std::string> out;
    const auto list = nlohmann::json::parse(r.out, nullptr, false);
    if (!list.is_object() || !list.contains("items")) return out;
    for (const auto& item : list["items"])
      out.insert(item["kind"].get<std::string>() + "/" +
                 item["metadata"]["name"].get<std::string>());
    return out;
  }
  std::set<std::string> held(const std::string& ns) {
    std::set<std::string> out;
    for (const auto& n : names(k8s::network_policies, ns)) out.insert("NetworkPolicy/" + n);
    for (const auto& n : names(k8s::cilium_network_policies, ns))
      out.insert("CiliumNetworkPolicy/" + n);
    return out;
  }
  std::string describe(const std::string& ns) {
    std::string out = ns + ": desired";
    for (const auto& d : desired(ns)) out += " " + d;
    out += "; held";
    for (const auto& h : held(ns)) out += " " + h;
    return out;
  }
  bool converged(const std::string& ns) {
    const auto want = desired(ns);
    return !want.empty() && held(ns) == want;
  }
  std::string lease_holder() {
    auto lease = admin->get_lease("mlnetpol-system", "mlnetpol-reconciler");
    return lease ? lease->holder_identity : std::string("<none>");
  }
};

}  // namespace mlnetpol::testing::e2e
