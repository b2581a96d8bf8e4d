// An idle flood of the webhook port against the real kube-apiserver v1.28.7 (kapi), issue 25:
// `mlnetpol serve` runs with the project's RBAC and a bound service-account token, its webhooks
// registered (failurePolicy Fail for pods); more connections than --max-connections that never
// start a TLS handshake are held open while the API server creates 20 pods in parallel through the
// webhooks. Each API server connection closes the longest-waiting flood connection to get in, so
// no creation fails. Bounded: 100 connections on loopback, held for the test only. Skipped when
// MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::run_command;
using mlnetpol::testing::shell_quote;
using namespace mlnetpol::testing::e2e;

namespace {

// A TCP connection to 127.0.0.1:port that never sends a byte; -1 when connect fails.
int silent_connection(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

}  // namespace

TEST_CASE("e2e: an idle flood over the connection cap, 20 pods created at once, none fails") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("connection-flood e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  c.set_config(
      "platform_namespaces: []\ntenant_namespaces: []\nml_training_namespaces: [training]\n"
      "ml_inference_namespaces: []\nenforcement_mode: enforce\n");
  REQUIRE(c.kubectl("create namespace training").status == 0);
  REQUIRE(c.kubectl("-n training create serviceaccount default").status == 0);

  // A small cap, so the flood stays small; the API server and the flood share 127.0.0.1, so the
  // per-peer limit is out of the way here (tests/server/listener_test.cpp covers it).
  replica a("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs,
            {"--max-connections=64", "--max-connections-per-peer=1000", "--handshake-timeout=60s",
             "--idle-timeout=60s", "--log-denies=false"});
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  REQUIRE(eventually([&] { return c.labels("training").count("mlnetpol.io/secured") == 1; }));
  c.register_webhooks(a.port());
  INFO("replica-a log:\n" << tail_of(c.dir + "/replica-a.log"));
  // The webhook is in the path: a pod gets its label.
  REQUIRE(eventually([&] {
    return c.kubectl("-n training run warm --image=registry.k8s.io/pause:3.9 --restart=Never")
               .status == 0;
  }));
  CHECK(c.kubectl("-n training get pod warm -o jsonpath='{.metadata.labels.workload-type}'").out ==
        "training");

  // The flood: 100 connections against a cap of 64, all waiting for a handshake that never comes.
  std::vector<int> flood;
  for (int i = 0; i < 100; ++i) {
    const int fd = silent_connection(a.port());
    if (fd >= 0) flood.push_back(fd);
  }
  CHECK(flood.size() == 100);
  // 36 over the cap: each closed the connection waiting longest (the flood's, or the API
  // server's idle ones from the warm-up), none refused.
  REQUIRE(eventually([&] {
    return a.metric("mlnetpol_connections_evicted_total{state=\"tls_handshake\"}") +
               a.metric("mlnetpol_connections_evicted_total{state=\"idle\"}") >=
           36;
  }));
  CHECK(a.metric("mlnetpol_connections_rejected_total{reason=\"max_connections\"}") == 0);

  // 20 pods at once, as many webhook calls in parallel from the API server.
  const auto created = run_command(
      "cd " + shell_quote(c.dir) +
      " && for i in $(seq 1 20); do (KUBECONFIG=" + shell_quote(kapi.kubeconfig()) +
      " kubectl -n training run flood-$i --image=registry.k8s.io/pause:3.9 --restart=Never "
      ">/dev/null 2>flood-$i.err || { echo FAILED flood-$i; cat flood-$i.err; }) & done; wait");
  CHECK_MESSAGE(created.out.find("FAILED") == std::string::npos, created.out);
  const auto pods = c.kubectl("-n training get pods -l workload-type=training --no-headers");
  CHECK(std::count(pods.out.begin(), pods.out.end(), '\n') == 21);
  CHECK(a.metric("mlnetpol_connections_rejected_total{reason=\"max_connections\"}") == 0);
  for (const int fd : flood) ::close(fd);
}
