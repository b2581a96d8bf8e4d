// Self-managed webhook certificates against the real kube-apiserver v1.28.7 (kapi): two `mlnetpol
// serve --cert-management=self` processes with the project's own RBAC (a bound service-account
// token), registered by URL (mutating -> replica A, validating -> replica B, failurePolicy Fail),
// while pods are created in a secured namespace:
//   fresh install (no Secret) -> admission works; rotation with short lifetimes -> 0 refused,
//   0 "unknown authority"; caBundle tampered -> repaired; Secret deleted -> recreated, still no
//   failed admission; the leader killed mid-rotation -> the other replica completes it.
// Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
namespace t = mlnetpol::testing;
using namespace std::chrono_literals;
using mlnetpol::testing::e2e::eventually;
using mlnetpol::testing::e2e::free_port;
using mlnetpol::testing::e2e::install_service_account;
using mlnetpol::testing::e2e::read_text;
using mlnetpol::testing::e2e::tail_of;

namespace {

// One `mlnetpol serve` process.
struct replica {
  std::string name;
  int port = 0;
  int metrics_port = 0;
  pid_t pid = -1;
  std::string log;

  void start(const std::string& kubeconfig, const std::string& dir,
             const std::vector<std::string>& extra) {
    port = free_port();
    metrics_port = free_port();
    log = dir + "/" + name + ".log";
    std::vector<std::string> args = {
        MLNETPOL_BINARY,
        "serve",
        "--cert-management=self",
        "--bind-address=127.0.0.1",
        "--port=" + std::to_string(port),
        "--metrics-bind-address=127.0.0.1:" + std::to_string(metrics_port),
        "--kubeconfig=" + kubeconfig,
        "--threads=2",
        "--cert-extra-san=127.0.0.1",
        "--cert-serving-lifetime=30s",
        "--cert-ca-lifetime=90s",
        "--cert-propagation=2s",
        "--cert-clock-margin=2s",
        "--cert-check-interval=1s",
        // Its own webhooks (one per replica, by URL), not the shipped ones: caBundle only.
        "--webhook-repair=ca-bundle",
        "--leader-elect-lease-duration=4s",
        "--leader-elect-renew-deadline=3s",
        "--leader-elect-retry-period=1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("POD_NAME", name.c_str(), 1);
      ::setenv("POD_NAMESPACE", "mlnetpol-system", 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  void kill_now() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid, nullptr, WNOHANG) == pid) {
          pid = -1;
          return;
        }
        std::this_thread::sleep_for(100ms);
      }
      kill_now();
    }
  }
  std::string get(const std::string& path) const {
    return t::run_command("curl -s --max-time 2 http://127.0.0.1:" + std::to_string(metrics_port) +
                          path)
        .out;
  }
  bool ready() const {
    return t::run_command("curl -sf --max-time 2 http://127.0.0.1:" + std::to_string(metrics_port) +
                          "/readyz >/dev/null")
               .status == 0;
  }
  ~replica() { kill_now(); }
};

double metric(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != ' ' && next != '{') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::string webhooks_yaml(int mutate_port, int validate_port) {
  auto hook = [](const std::string& name, int port, const std::string& path) {
    return "- name: " + name +
           "\n  admissionReviewVersions: [v1]\n  sideEffects: NoneOnDryRun\n  failurePolicy: "
           "Fail\n  timeoutSeconds: 5\n  clientConfig:\n    url: https://127.0.0.1:" +
           std::to_string(port) + path +
           "\n  namespaceSelector:\n    matchLabels: {mlnetpol.io/secured: \"true\"}\n  rules:\n"
           "  - {apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n";
  };
  return "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\n"
         "metadata: {name: mlnetpol}\nwebhooks:\n" +
         hook("pods.mutate.mlnetpol.io", mutate_port, "/mutate") +
         "---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
         "metadata: {name: mlnetpol}\nwebhooks:\n" +
         hook("pods.validate.mlnetpol.io", validate_port, "/validate");
}

// Pod creations in the secured namespace, counted.
struct admissions {
  std::atomic<int> attempted{0};
  std::atomic<int> refused{0};
  std::atomic<int> unknown_authority{0};
  std::string first_error;
  std::mutex mutex;

  void create_one(k8s::client& client) {
    ++attempted;
    auto r = client.create(
        k8s::resource{"", "v1", "pods", "Pod", true}, "training",
        R"({"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"p-"},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.9"}]}})");
    if (r) return;
    ++refused;
    if (r.error().message.find("unknown authority") != std::string::npos) ++unknown_authority;
    std::lock_guard lock(mutex);
    if (first_error.empty()) first_error = r.error().message;
  }
  // Creates pods until `until` returns true or `limit` passes. `until` (kubectl calls, slow on a
  // loaded machine) is asked once a second, so the creations, not the checks, set the pace.
  template <class Until>
  void loop(k8s::client& client, std::chrono::seconds limit, Until until) {
    const auto end = std::chrono::steady_clock::now() + limit;
    auto next_check = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < end) {
      if (std::chrono::steady_clock::now() >= next_check) {
        if (until()) return;
        next_check = std::chrono::steady_clock::now() + 1s;
      }
      create_one(client);
      std::this_thread::sleep_for(100ms);
    }
  }
};

}  // namespace

TEST_CASE("self-managed certificates against kube-apiserver: install, rotation, repair, handover") {
  const auto script = t::kapi_script();
  if (!script) {
    std::puts("certificate e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  t::kapi_server kapi(*script);
  auto admin_config = k8s::load_kubeconfig(kapi.kubeconfig());
  REQUIRE(admin_config.has_value());
  k8s::client admin(*admin_config);

  const std::string sa_kubeconfig = kapi.dir() + "/mlnetpol.kubeconfig";
  install_service_account(kapi, sa_kubeconfig);
  // A secured namespace with the ServiceAccount pods need (no controller-manager here).
  REQUIRE(kapi.kubectl("create ns training").status == 0);
  REQUIRE(kapi.kubectl("label ns training mlnetpol.io/secured=true").status == 0);
  REQUIRE(kapi.kubectl("-n training create sa default").status == 0);

  replica a, b;
  a.name = "replica-a";
  b.name = "replica-b";
  a.start(sa_kubeconfig, kapi.dir(), {});
  // A first: it takes the Lease.
  std::this_thread::sleep_for(1500ms);
  b.start(sa_kubeconfig, kapi.dir(), {});
  {
    const std::string hooks = kapi.dir() + "/webhooks.yaml";
    std::ofstream(hooks) << webhooks_yaml(a.port, b.port);
    REQUIRE(kapi.kubectl("apply -f " + hooks).status == 0);
  }
  auto dump = [&] {
    MESSAGE("replica-a log:\n" << tail_of(a.log));
    MESSAGE("replica-b log:\n" << tail_of(b.log));
  };
  auto secret_field = [&](const std::string& jsonpath) {
    return kapi
        .kubectl("-n mlnetpol-system get secret mlnetpol-tls -o jsonpath=" +
                 t::shell_quote("{" + jsonpath + "}") + " 2>/dev/null")
        .out;
  };
  auto bundle_of = [&](const std::string& kind) {
    return kapi
        .kubectl("get " + kind + " mlnetpol -o jsonpath='{.webhooks[0].clientConfig.caBundle}'")
        .out;
  };

  // --- fresh install: no Secret; both replicas become ready only once the leader issued a
  // certificate whose CA every caBundle holds; then admission works.
  const bool ready = eventually([&] { return a.ready() && b.ready(); }, 30s);
  if (!ready) dump();
  REQUIRE(ready);
  CHECK(bundle_of("mutatingwebhookconfiguration") == secret_field(".data.ca\\.crt"));
  CHECK(bundle_of("validatingwebhookconfiguration") == secret_field(".data.ca\\.crt"));
  admissions install;
  for (int i = 0; i < 5; ++i) install.create_one(admin);
  if (install.refused) MESSAGE("install: " << install.first_error);
  CHECK(install.refused == 0);

  // --- rotation: serving certificates of 30 s renewed every ~20 s, a CA of 90 s rotated at
  // ~60 s and its predecessor retired when the last certificate it signed expired — all while
  // pods are created without pause.
  const std::string first_ca = secret_field(".data.signing-ca\\.crt");
  REQUIRE_FALSE(first_ca.empty());
  admissions rotation;
  rotation.loop(admin, 110s, [&] {
    const std::string signing = secret_field(".data.signing-ca\\.crt");
    const std::string bundle = secret_field(".data.ca\\.crt");
    // Done once a new CA signs and the bundle holds one CA again (the old one retired).
    return !signing.empty() && signing != first_ca && bundle == signing;
  });
  MESSAGE("rotation: " << rotation.attempted.load() << " admissions attempted, "
                       << rotation.refused.load() << " refused, "
                       << rotation.unknown_authority.load() << " unknown authority");
  if (rotation.refused) MESSAGE("first error: " << rotation.first_error);
  const std::string metrics_a = a.get("/metrics");
  const std::string metrics_b = b.get("/metrics");
  CHECK(metric(metrics_a, "mlnetpol_cert_rotations_total") >= 3);  // serving + CA switches
  CHECK(metric(metrics_a + metrics_b, "mlnetpol_cert_reloads_total") >= 6);
  CHECK(metric(metrics_b, "mlnetpol_cert_serving_not_after_timestamp_seconds") > 0);
  CHECK(secret_field(".data.signing-ca\\.crt") != first_ca);
  CHECK(rotation.attempted > 100);
  CHECK(rotation.refused == 0);
  CHECK(rotation.unknown_authority == 0);
  if (rotation.refused) dump();

  // --- caBundle tampered: repaired within seconds.
  {
    std::string b64 = t::run_command("base64 -w0 " + t::shell_quote(kapi.ca_file())).out;
    REQUIRE(kapi.kubectl(
                    "patch validatingwebhookconfiguration mlnetpol --type=json -p " +
                    t::shell_quote(
                        R"([{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":")" +
                        b64 + "\"}]"))
                .status == 0);
  }
  const bool repaired = eventually([&] {
    return bundle_of("validatingwebhookconfiguration") == secret_field(".data.ca\\.crt");
  });
  CHECK(repaired);
  CHECK(metric(a.get("/metrics"), "mlnetpol_cert_cabundle_repairs_total") >= 1);
  CHECK(t::run_command("grep -q 'caBundle was changed by someone else' " + t::shell_quote(a.log))
            .status == 0);
  admissions after_repair;
  for (int i = 0; i < 5 && repaired; ++i) after_repair.create_one(admin);
  CHECK(after_repair.refused == 0);

  // --- Secret deleted: written back, and no admission fails meanwhile.
  REQUIRE(kapi.kubectl("-n mlnetpol-system delete secret mlnetpol-tls").status == 0);
  admissions deletion;
  deletion.loop(admin, 12s, [] { return false; });
  CHECK_FALSE(secret_field(".data.ca\\.crt").empty());
  CHECK(metric(a.get("/metrics"), "mlnetpol_cert_secret_recreations_total") >= 1);
  MESSAGE("Secret deleted: " << deletion.attempted.load() << " attempted, "
                             << deletion.refused.load() << " refused");
  if (deletion.refused) MESSAGE("first error: " << deletion.first_error);
  CHECK(deletion.refused == 0);

  // --- the leader killed mid-rotation (a CA staged, not signing yet): B takes the Lease and
  // completes the rotation. A's webhook entry is pointed at B, and admissions keep working.
  // A's own log says the moment it staged a CA (2 s before it could switch): killed right then.
  auto staged_count = [&] {
    return t::run_command("grep -c '\"step\":\"ca_staged\"' " + t::shell_quote(a.log)).out;
  };
  const std::string staged_before = staged_count();
  const bool staged = eventually([&] { return staged_count() != staged_before; }, 70s);
  a.kill_now();
  REQUIRE_MESSAGE(staged, "no CA rotation started");
  const std::string next_ca = secret_field(".data.next-ca\\.crt");
  REQUIRE_FALSE(next_ca.empty());
  REQUIRE(
      kapi.kubectl(
              "patch mutatingwebhookconfiguration mlnetpol --type=json -p " +
              t::shell_quote(
                  R"([{"op":"replace","path":"/webhooks/0/clientConfig/url","value":"https://127.0.0.1:)" +
                  std::to_string(b.port) + "/mutate\"}]"))
          .status == 0);
  admissions handover;
  handover.loop(admin, 30s, [&] { return secret_field(".data.signing-ca\\.crt") == next_ca; });
  const bool completed = secret_field(".data.signing-ca\\.crt") == next_ca &&
                         secret_field(".data.next-ca\\.crt").empty();
  if (!completed) dump();
  CHECK(completed);
  // Info lines reach the file within a second (the logger flushes them in batches).
  CHECK(eventually([&] {
    return t::run_command("grep -q '\"step\":\"ca_switched\"' " + t::shell_quote(b.log)).status ==
           0;
  }));
  MESSAGE("handover: " << handover.attempted.load() << " attempted, " << handover.refused.load()
                       << " refused");
  if (handover.refused) MESSAGE("first error: " << handover.first_error);
  CHECK(handover.refused == 0);
  b.stop();
}
