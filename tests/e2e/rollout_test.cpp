// Rolling restarts against the real kube-apiserver v1.28.7 (kapi) refuse no pod creation. The
// Deployment's replicas run as local `mlnetpol serve` processes with the manifest's own flags
// (manifests/base/deployment.yaml; only ports, paths and durations adapted), the webhooks of
// manifests/base/webhooks.yaml (failurePolicy Fail for pods) are registered with a URL on a TCP
// forwarder that stands in for the Service: each NEW connection goes to one of the current
// endpoints, an established one stays with its backend (kube-proxy + conntrack). Each restart goes
// the way the Deployment controller and the kubelet go (maxSurge 1, maxUnavailable 0):
//   new replica started -> ready -> added to the endpoints; the old pod terminating: its preStop
//   (the manifest's `mlnetpol pause`) runs while the endpoint removal propagates, then SIGTERM,
//   and it must be gone (exit 0) within terminationGracePeriodSeconds, counted from the start.
// Meanwhile pods are created without pause in a secured namespace: 0 refused.
// Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
namespace t = mlnetpol::testing;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using mlnetpol::testing::e2e::binary;
using mlnetpol::testing::e2e::eventually;
using mlnetpol::testing::e2e::free_port;
using mlnetpol::testing::e2e::install_service_account;
using mlnetpol::testing::e2e::local_webhooks;
using mlnetpol::testing::e2e::read_text;
using mlnetpol::testing::e2e::source;
using mlnetpol::testing::e2e::tail_of;

namespace {

// The manifest's durations scaled down for test time, with the same relations: the pause outlasts
// the endpoint removal, the grace period covers pause + --shutdown-grace with time to spare.
constexpr auto endpoint_lag = 500ms;  // Endpoints controller + kube-proxy, after the pod is deleted
constexpr int pause_seconds = 2;      // manifest: 5
constexpr int shutdown_grace_seconds = 4;                                         // manifest: 20
constexpr int grace_period_seconds = pause_seconds + shutdown_grace_seconds + 2;  // manifest: 30
constexpr int restarts = 3;  // A -> B -> C -> D

const k8s::resource pods{"", "v1", "pods", "Pod", true};

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// What the Deployment ships: the container's args and preStop command, the grace period.
struct shipped_deployment {
  std::vector<std::string> args;
  std::vector<std::string> pre_stop;
  int grace_period = 0;
};

shipped_deployment read_deployment() {
  const YAML::Node doc = YAML::LoadFile(source + "/manifests/base/deployment.yaml");
  const YAML::Node pod = doc["spec"]["template"]["spec"];
  const YAML::Node container = pod["containers"][0];
  shipped_deployment d;
  for (const auto& a : container["args"]) d.args.push_back(a.as<std::string>());
  for (const auto& a : container["lifecycle"]["preStop"]["exec"]["command"])
    d.pre_stop.push_back(a.as<std::string>());
  d.grace_period = pod["terminationGracePeriodSeconds"].as<int>(30);
  return d;
}

// The manifest's args with the flags that name this host's ports and files replaced; every other
// flag is passed on as shipped. Returns the flags it did not find (each must be in the manifest).
std::vector<std::string> adapt_args(const std::vector<std::string>& shipped,
                                    std::map<std::string, std::string> replace,
                                    std::vector<std::string>& out) {
  for (const auto& arg : shipped) {
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const auto it = replace.find(name);
    if (it == replace.end()) {
      out.push_back(arg);
      continue;
    }
    out.push_back(name + "=" + it->second);
    replace.erase(it);
  }
  std::vector<std::string> missing;
  for (const auto& [name, value] : replace) missing.push_back(name);
  return missing;
}

// The Service: a TCP forwarder on 127.0.0.1. Each new connection goes to the next endpoint
// (round robin) and stays there until either side closes it, whatever the endpoints become.
class service_forwarder {
 public:
  service_forwarder() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 128) != 0) {
      throw std::runtime_error("forwarder: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~service_forwarder() {
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> pipes;
    {
      std::lock_guard lock(mutex_);
      pipes.swap(pipes_);
    }
    for (auto& p : pipes) p.join();
    ::close(listen_fd_);
  }
  service_forwarder(const service_forwarder&) = delete;
  service_forwarder& operator=(const service_forwarder&) = delete;

  int port() const { return port_; }
  void add_endpoint(int port) {
    std::lock_guard lock(mutex_);
    endpoints_.push_back(port);
  }
  void remove_endpoint(int port) {
    std::lock_guard lock(mutex_);
    std::erase(endpoints_, port);
  }
  // Connections sent to a backend so far, and connections that found no backend to take them.
  int connections_to(int port) {
    std::lock_guard lock(mutex_);
    return connections_[port];
  }
  int unrouted() const { return unrouted_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      int backend_port = 0;
      {
        std::lock_guard lock(mutex_);
        if (!endpoints_.empty()) backend_port = endpoints_[next_++ % endpoints_.size()];
      }
      const int backend = backend_port ? connect_to(backend_port) : -1;
      if (backend < 0) {
        ++unrouted_;
        reset_close(client);
        continue;
      }
      std::lock_guard lock(mutex_);
      ++connections_[backend_port];
      pipes_.emplace_back([this, client, backend] { pipe(client, backend); });
    }
  }
  static int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }
  // A reset on one side becomes a reset on the other, as through a NAT.
  static void reset_close(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }
  static bool write_all(int fd, const char* data, ssize_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= w;
    }
    return true;
  }
  // Copies both ways; an end of stream is passed on as a half-close, an error as a reset.
  void pipe(int client, int backend) {
    const int fds[2] = {client, backend};
    bool open[2] = {true, true};  // still reading from fds[i]
    bool failed = false;
    char buffer[65536];
    while (!stop_ && !failed && (open[0] || open[1])) {
      pollfd p[2] = {{open[0] ? fds[0] : -1, POLLIN, 0}, {open[1] ? fds[1] : -1, POLLIN, 0}};
      if (::poll(p, 2, 100) <= 0) continue;
      for (int i = 0; i < 2 && !failed; ++i) {
        if (!open[i] || p[i].revents == 0) continue;
        const ssize_t n = ::recv(fds[i], buffer, sizeof buffer, 0);
        if (n > 0) {
          failed = !write_all(fds[1 - i], buffer, n);
        } else if (n == 0) {
          open[i] = false;
          ::shutdown(fds[1 - i], SHUT_WR);
        } else {
          failed = true;
        }
      }
    }
    if (failed) {
      reset_close(client);
      reset_close(backend);
    } else {
      ::close(client);
      ::close(backend);
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> unrouted_{0};
  std::mutex mutex_;
  std::vector<int> endpoints_;
  std::size_t next_ = 0;
  std::map<int, int> connections_;
  std::vector<std::thread> pipes_;
  std::thread acceptor_;
};

pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for pid until deadline; the exit status, or -1 if it is still running then.
int wait_until(pid_t pid, clock_type::time_point deadline) {
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (clock_type::now() >= deadline) return -1;
    std::this_thread::sleep_for(20ms);
  }
}

// One pod of the Deployment: `mlnetpol serve` with the shipped flags.
struct replica {
  std::string name;
  int port = 0;
  int metrics_port = 0;
  pid_t pid = -1;
  std::string log;

  replica(std::string n, const std::vector<std::string>& args_shipped, const std::string& dir,
          const std::string& kubeconfig, const std::string& config, int service_port)
      : name(std::move(n)),
        port(free_port()),
        metrics_port(free_port()),
        log(dir + "/" + name + ".log") {
    std::vector<std::string> args{binary, "serve"};
    const auto missing =
        adapt_args(args_shipped,
                   {{"--port", std::to_string(port)},
                    {"--metrics-bind-address", "127.0.0.1:" + std::to_string(metrics_port)},
                    {"--config", config},
                    {"--shutdown-grace", std::to_string(shutdown_grace_seconds) + "s"}},
                   args);
    for (const auto& flag : missing) FAIL("manifests/base/deployment.yaml has no " << flag);
    // In a pod: the Service account and the Service's name in the certificate; here a kubeconfig
    // and the address the webhooks are registered with (the leader keeps them as shipped, with
    // that URL for the Service). The first certificate is signed once its CA has been in the
    // caBundle for --cert-propagation (60 s by default): 2 s here.
    args.insert(args.end(), {"--bind-address=127.0.0.1", "--kubeconfig=" + kubeconfig,
                             "--cert-extra-san=127.0.0.1", "--cert-propagation=2s",
                             "--webhook-url=https://127.0.0.1:" + std::to_string(service_port)});
    pid = spawn(args, log, {{"POD_NAME", name}, {"POD_NAMESPACE", "mlnetpol-system"}});
  }
  ~replica() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  replica(const replica&) = delete;
  replica& operator=(const replica&) = delete;

  bool ready() const {
    // The readiness probe: HTTP GET /readyz on the metrics port.
    return t::run_command("curl -sf --max-time 2 http://127.0.0.1:" + std::to_string(metrics_port) +
                          "/readyz >/dev/null 2>&1")
               .status == 0;
  }
};

// Pods created back to back by a few clients (as controllers and users do), counted; a refusal
// is kept with the time its answer came.
struct refusal {
  clock_type::time_point at;
  std::string what;
};
class pod_creator {
 public:
  pod_creator(const k8s::rest_config& config, int clients) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, config, i] {
        k8s::client client(config);
        for (int n = 0; !stop_; ++n)
          create(client, "p-" + std::to_string(i) + "-" + std::to_string(n));
      });
    }
  }
  ~pod_creator() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& th : threads_)
      if (th.joinable()) th.join();
  }
  int created() const { return created_.load(); }
  int refused() const { return refused_.load(); }
  int unmutated() const { return unmutated_.load(); }
  std::vector<refusal> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  void create(k8s::client& client, const std::string& name) {
    auto r = client.create(
        pods, "training",
        R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
            R"("},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.9"}]}})");
    if (r) {
      ++created_;
      // The mutating webhook ran (the namespace is secured): the workload-type label is set.
      if (!r->labels.contains("workload-type")) ++unmutated_;
      return;
    }
    ++refused_;
    std::lock_guard lock(mutex_);
    if (errors_.size() < 10)
      errors_.push_back({clock_type::now(), name + ": " + r.error().message});
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> created_{0};
  std::atomic<int> refused_{0};
  std::atomic<int> unmutated_{0};
  std::mutex mutex_;
  std::vector<refusal> errors_;
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("e2e: rolling restarts (preStop pause, SIGTERM drain) refuse no pod creation") {
  const auto script = t::kapi_script();
  if (!script) {
    std::puts("rollout e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  const shipped_deployment shipped = read_deployment();
  // The preStop hook is `mlnetpol pause --seconds N`: run here as shipped, N scaled down.
  REQUIRE(shipped.pre_stop.size() == 4);
  REQUIRE(shipped.pre_stop[1] == "pause");
  REQUIRE(shipped.pre_stop[2] == "--seconds");
  const std::vector<std::string> pre_stop{binary, shipped.pre_stop[1], shipped.pre_stop[2],
                                          std::to_string(pause_seconds)};

  t::kapi_server kapi(*script);
  const std::string dir = kapi.dir();
  auto admin_config = k8s::load_kubeconfig(kapi.kubeconfig());
  REQUIRE(admin_config.has_value());

  const std::string sa_kubeconfig = dir + "/mlnetpol.kubeconfig";
  install_service_account(kapi, sa_kubeconfig);
  const std::string config = dir + "/config.yaml";
  std::ofstream(config) << "platform_namespaces: []\ntenant_namespaces: []\n"
                           "ml_training_namespaces: [training]\nml_inference_namespaces: []\n"
                           "enforcement_mode: enforce\n";

  service_forwarder service;
  {
    const std::string hooks = dir + "/webhooks.yaml";
    std::ofstream(hooks) << local_webhooks(service.port());
    const auto r = kapi.kubectl("apply -f " + t::shell_quote(hooks) + " 2>&1");
    REQUIRE_MESSAGE(r.status == 0, r.out);
  }

  std::vector<std::unique_ptr<replica>> replicas;
  auto start_replica = [&]() -> replica& {
    const std::string name = std::string("replica-") + static_cast<char>('a' + replicas.size());
    replicas.push_back(
        std::make_unique<replica>(name, shipped.args, dir, sa_kubeconfig, config, service.port()));
    replica& r = *replicas.back();
    // The readiness probe gates the endpoint (the first replica also waits for the leader to
    // issue the certificate and fill the webhooks' caBundle).
    REQUIRE_MESSAGE(eventually([&] { return r.ready(); }, 30s), tail_of(r.log));
    service.add_endpoint(r.port);
    return r;
  };
  replica* current = &start_replica();

  // A secured namespace (the mutating webhook or the reconciler labels it), its ServiceAccount
  // (no controller-manager), and admission through the webhook before the loop starts.
  REQUIRE(kapi.kubectl("create namespace training").status == 0);
  REQUIRE(kapi.kubectl("-n training create serviceaccount default").status == 0);
  k8s::client admin(*admin_config);
  int warmup = 0;
  const bool admitting = eventually(
      [&] {
        auto r = admin.create(
            pods, "training",
            R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"warmup-)" +
                std::to_string(warmup++) +
                R"("},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.9"}]}})");
        return r && r->labels.contains("workload-type");
      },
      20s);
  REQUIRE_MESSAGE(admitting, tail_of(current->log));

  pod_creator creator(*admin_config, 3);
  std::this_thread::sleep_for(1s);
  struct restart_stats {
    std::string from, to;
    int created = 0, refused = 0, exit_status = 0, old_connections = 0;
    double pause_ms = 0, drain_ms = 0;
    clock_type::time_point sigterm;
  };
  std::vector<restart_stats> stats;
  for (int i = 0; i < restarts; ++i) {
    restart_stats s;
    const int created0 = creator.created(), refused0 = creator.refused();
    replica& next = start_replica();
    replica& old = *current;
    s.from = old.name;
    s.to = next.name;
    // The old pod is deleted: the endpoint removal propagates while the kubelet runs preStop.
    const auto deleted = clock_type::now();
    const pid_t hook = spawn(pre_stop, dir + "/" + old.name + ".prestop.log");
    std::this_thread::sleep_for(endpoint_lag);
    service.remove_endpoint(old.port);
    const int hook_status = wait_until(hook, deleted + std::chrono::seconds(grace_period_seconds));
    CHECK_MESSAGE(hook_status == 0, old.name << ": preStop exit " << hook_status);
    if (hook_status < 0) {
      ::kill(hook, SIGKILL);
      ::waitpid(hook, nullptr, 0);
    }
    s.pause_ms = ms_since(deleted);
    // Then SIGTERM; the kubelet's SIGKILL comes terminationGracePeriodSeconds after the deletion.
    const auto term = s.sigterm = clock_type::now();
    ::kill(old.pid, SIGTERM);
    s.exit_status = wait_until(old.pid, deleted + std::chrono::seconds(grace_period_seconds));
    s.drain_ms = ms_since(term);
    if (s.exit_status >= 0) old.pid = -1;  // else the destructor kills it, as the kubelet would
    s.old_connections = service.connections_to(old.port);
    current = &next;
    std::this_thread::sleep_for(500ms);  // the new replica alone before the next restart
    s.created = creator.created() - created0;
    s.refused = creator.refused() - refused0;
    stats.push_back(s);
  }
  creator.stop();

  for (const auto& s : stats) {
    MESSAGE(s.from << " -> " << s.to << ": " << s.created << " pods created, " << s.refused
                   << " refused; preStop " << s.pause_ms << " ms, drain after SIGTERM "
                   << s.drain_ms << " ms (exit " << s.exit_status << "), " << s.old_connections
                   << " connections to " << s.from);
  }
  MESSAGE("total: " << creator.created() << " pods created, " << creator.refused() << " refused, "
                    << service.unrouted() << " connections without endpoint");
  for (const auto& e : creator.errors()) {
    // Which step it followed: a refusal right after a SIGTERM is the drain's.
    std::string when = "before the first SIGTERM";
    for (const auto& s : stats) {
      if (s.sigterm <= e.at) {
        when =
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(e.at - s.sigterm).count()) +
            " ms after SIGTERM to " + s.from;
      }
    }
    MESSAGE("refused " << when << ": " << e.what);
  }
  CHECK(creator.refused() == 0);
  CHECK(creator.unmutated() == 0);
  CHECK(service.unrouted() == 0);
  CHECK(creator.created() >= 100 * restarts);
  for (const auto& s : stats) {
    CAPTURE(s.from);
    CHECK(s.created >= 20);         // the loop ran through every restart
    CHECK(s.old_connections >= 1);  // the old replica served before it went
    CHECK(s.exit_status == 0);      // drained and exited on its own, before the SIGKILL
  }
  if (creator.refused() != 0) {
    for (const auto& r : replicas) MESSAGE(r->name << " log:\n" << tail_of(r->log));
  }
  for (auto& r : replicas) {
    if (r->pid > 0) {
      ::kill(r->pid, SIGTERM);
      if (wait_until(r->pid, clock_type::now() + 10s) >= 0) r->pid = -1;
    }
  }
}
