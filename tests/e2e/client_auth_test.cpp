// `serve --client-ca-file` against the real kube-apiserver v1.28.7 (kapi): the API server presents
// a client certificate to the webhook through its admission configuration (a kubeconfig whose user
// is named after the webhook URL's host:port). Before the API server has it, the webhook refuses
// it (failurePolicy Fail: the pod is refused); after a restart with --admission-control-config-file
// the pod is created with mlnetpol's patch, while curl without a client certificate gets no
// answer. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "certs/certs.hpp"
#include "tests/support/kapi.hpp"

namespace t = mlnetpol::testing;
namespace certs = mlnetpol::certs;
using namespace std::chrono_literals;

namespace {

// Never the same port twice in one run.
int pick_port() {
  static int next = 31000 + static_cast<int>(::getpid() % 500) * 11;
  for (;; next += 13) {
    if (next > 60000) next = 31000;
    if (t::port_free(next)) {
      next += 13;
      return next - 13;
    }
  }
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v =
        (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16;
    out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return out;
}

struct webhook_process {
  pid_t pid = -1;
  std::string log;
  void start(const std::vector<std::string>& args) {
    pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<std::string> copy = args;
      std::vector<char*> argv;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~webhook_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

TEST_CASE("--client-ca-file against kube-apiserver: the API server authenticates, curl does not") {
  const auto script = t::kapi_script();
  if (!script) {
    std::puts("client-auth e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  t::kapi_server kapi(*script);
  const std::string dir = kapi.dir() + "/webhook-auth";
  std::filesystem::create_directories(dir);

  // Serving pair (SAN 127.0.0.1), a client CA and the API server's client certificate.
  certs::issue_options serving;
  serving.dev = true;
  const auto pair = certs::issue(serving);
  certs::write_files(pair, dir, true);
  const auto now = certs::wall_clock::now();
  certs::issue_options ca_options;
  ca_options.service = "webhook-clients";
  const auto client_ca = certs::issue_ca(ca_options, now - 5min, now + 24h);
  const auto apiserver_cert =
      certs::issue_client(client_ca, "kube-apiserver", {}, now - 5min, now + 24h);
  write_text(dir + "/client-ca.crt", client_ca.cert_pem);
  write_text(dir + "/apiserver-client.crt", apiserver_cert.cert_pem);
  write_text(dir + "/apiserver-client.key", apiserver_cert.key_pem);

  const int port = pick_port();
  const int metrics_port = pick_port();
  webhook_process webhook;
  webhook.log = dir + "/serve.log";
  webhook.start(
      {MLNETPOL_BINARY, "serve", "--bind-address=127.0.0.1", "--port=" + std::to_string(port),
       "--metrics-bind-address=127.0.0.1:" + std::to_string(metrics_port),
       "--tls-cert-file=" + dir + "/tls.crt", "--tls-key-file=" + dir + "/tls.key",
       "--client-ca-file=" + dir + "/client-ca.crt", "--client-allowed-names=kube-apiserver",
       "--kubeconfig=" + kapi.kubeconfig(), "--threads=2"});
  const std::string metrics = "http://127.0.0.1:" + std::to_string(metrics_port);
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = t::run_command("curl -sf --max-time 2 " + metrics + "/readyz >/dev/null").status == 0;
    if (!up) std::this_thread::sleep_for(200ms);
  }
  REQUIRE_MESSAGE(up, t::run_command("tail -c 3000 " + t::shell_quote(webhook.log)).out);

  // The webhook, registered by URL, for pods in secured namespaces.
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  write_text(dir + "/webhook.yaml",
             "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\n"
             "metadata: {name: mlnetpol}\nwebhooks:\n- name: pods.mutate.mlnetpol.io\n"
             "  admissionReviewVersions: [v1]\n  sideEffects: NoneOnDryRun\n"
             "  failurePolicy: Fail\n  timeoutSeconds: 5\n  clientConfig:\n    url: " +
                 url + "/mutate\n    caBundle: " + base64(pair.ca_cert_pem) +
                 "\n  namespaceSelector:\n    matchLabels: {mlnetpol.io/secured: \"true\"}\n"
                 "  rules:\n  - {apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE], "
                 "resources: [pods]}\n");
  REQUIRE(kapi.kubectl("create ns training >/dev/null").status == 0);
  REQUIRE(kapi.kubectl("label ns training mlnetpol.io/secured=true >/dev/null").status == 0);
  // No controller-manager here to create it.
  REQUIRE(kapi.kubectl("-n training create serviceaccount default >/dev/null").status == 0);
  REQUIRE(
      kapi.kubectl("apply -f " + t::shell_quote(dir + "/webhook.yaml") + " >/dev/null").status ==
      0);
  auto create_pod = [&](const std::string& name) {
    return kapi.kubectl("run " + name +
                        " -n training --image=registry.k8s.io/pause:3.9 --restart=Never 2>&1");
  };

  // Without the admission configuration the API server has no certificate to present: refused.
  const auto before = create_pod("p-before");
  CHECK(before.status != 0);
  INFO("kubectl run without a client certificate: " << before.out);
  CHECK(before.out.find("pods.mutate.mlnetpol.io") != std::string::npos);

  // The API server side: a kubeconfig whose user is the webhook URL's host:port.
  write_text(dir + "/webhook-kubeconfig.yaml",
             "apiVersion: v1\nkind: Config\nusers:\n- name: \"127.0.0.1:" + std::to_string(port) +
                 "\"\n  user:\n    client-certificate: " + dir +
                 "/apiserver-client.crt\n    client-key: " + dir + "/apiserver-client.key\n");
  write_text(
      dir + "/admission.yaml",
      "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
      "- name: MutatingAdmissionWebhook\n  configuration:\n"
      "    apiVersion: apiserver.config.k8s.io/v1\n    kind: WebhookAdmissionConfiguration\n"
      "    kubeConfigFile: " +
          dir +
          "/webhook-kubeconfig.yaml\n"
          "- name: ValidatingAdmissionWebhook\n  configuration:\n"
          "    apiVersion: apiserver.config.k8s.io/v1\n    kind: WebhookAdmissionConfiguration\n"
          "    kubeConfigFile: " +
          dir + "/webhook-kubeconfig.yaml\n");
  kapi.stop_apiserver();
  kapi.start_apiserver({"--admission-control-config-file=" + dir + "/admission.yaml"});

  // Now the API server authenticates and the pod gets mlnetpol's patch.
  t::command_result after;
  for (int i = 0; i < 20; ++i) {
    after = create_pod("p-after");
    if (after.status == 0) break;
    std::this_thread::sleep_for(500ms);
  }
  INFO("kubectl run with the client certificate: " << after.out);
  REQUIRE(after.status == 0);
  const auto label =
      kapi.kubectl("get pod p-after -n training -o jsonpath='{.metadata.labels.workload-type}'");
  CHECK(label.out == "training");

  // A forged request without a client certificate gets no admission decision.
  write_text(
      dir + "/forged.json",
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Namespace"},"resource":{"group":"","version":"v1","resource":"namespaces"},"name":"training","operation":"UPDATE","userInfo":{"username":"x"},"object":{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"training","labels":{"mlnetpol.io/enforcement":"audit"}}}}})");
  const auto forged =
      t::run_command("curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert " + dir +
                     "/ca.crt -H "
                     "'Content-Type: application/json' --data-binary @" +
                     dir + "/forged.json " + url + "/mutate");
  INFO("curl without a client certificate: exit " << forged.status << ", " << forged.out);
  CHECK(forged.status != 0);
  CHECK(forged.out != "200");
  // The same curl with the API server's certificate is answered: the refusal was the certificate.
  const auto with_cert =
      t::run_command("curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert " + dir +
                     "/ca.crt --cert " + dir + "/apiserver-client.crt --key " + dir +
                     "/apiserver-client.key -H "
                     "'Content-Type: application/json' --data-binary @" +
                     dir + "/forged.json " + url + "/mutate");
  CHECK(with_cert.out == "200");
}
