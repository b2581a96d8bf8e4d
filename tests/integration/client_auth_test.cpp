// serve --client-ca-file / --client-allowed-names: only a caller with a client certificate from
// that CA (and, with the list, one of its names) reaches a handler; everyone else gets a TLS alert
// or 403, never an admission decision.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "tests/integration/test_support.hpp"
#include "tests/support/webhook_under_test.hpp"

using namespace mlnetpol::testing;
using json = nlohmann::json;
namespace certs = mlnetpol::certs;

namespace {

struct client_pki {
  certs::key_pair ca;
  certs::key_pair apiserver;    // CN kube-apiserver
  certs::key_pair by_san;       // CN something-else, DNS SAN webhook-client.example
  certs::key_pair intruder;     // CN intruder: right CA, name not allowed
  certs::key_pair server_only;  // right CA and name, but serverAuth only
};

client_pki make_pki() {
  const auto now = certs::wall_clock::now();
  const auto from = now - std::chrono::minutes(5);
  const auto until = now + std::chrono::hours(24);
  certs::issue_options o;
  o.service = "client-ca";
  client_pki p;
  p.ca = certs::issue_ca(o, from, until);
  p.apiserver = certs::issue_client(p.ca, "kube-apiserver", {}, from, until);
  p.by_san = certs::issue_client(p.ca, "something-else", {"webhook-client.example"}, from, until);
  p.intruder = certs::issue_client(p.ca, "intruder", {"intruder.example"}, from, until);
  certs::issue_options serving;
  serving.service = "kube-apiserver";
  p.server_only = certs::issue_serving(p.ca, serving, from, until);
  return p;
}

const client_pki& pki() {
  static const client_pki p = make_pki();
  return p;
}

// A CA nobody configured, and a client certificate it signed with an allowed name.
const certs::key_pair& foreign_client() {
  static const certs::key_pair pair = [] {
    const auto now = certs::wall_clock::now();
    certs::issue_options o;
    o.service = "other-ca";
    const auto ca = certs::issue_ca(o, now - std::chrono::minutes(5), now + std::chrono::hours(1));
    return certs::issue_client(ca, "kube-apiserver", {}, now - std::chrono::minutes(5),
                               now + std::chrono::hours(1));
  }();
  return pair;
}

void require_client_ca(mlnetpol::server::options& o, const std::filesystem::path& dir,
                       std::vector<std::string> names) {
  o.client_ca_file = (dir / "client-ca.crt").string();
  o.client_allowed_names = std::move(names);
}

// The status of one POST over a fresh connection, or 0 when the TLS layer refused it (handshake
// failure, or with TLS 1.3 the alert that arrives on the first read).
unsigned post_status(std::uint16_t port, const certs::key_pair* client, const std::string& target,
                     const std::string& body, std::string* response_body = nullptr) {
  tls_client c(port);
  if (client) c.use_certificate(client->cert_pem, client->key_pem);
  try {
    c.connect();
    auto r = c.request("POST", target, body);
    if (response_body) *response_body = r.body;
    return r.status;
  } catch (const boost::system::system_error&) {
    return 0;
  }
}

std::function<void(const std::filesystem::path&)> write_client_ca() {
  return [](const std::filesystem::path& dir) {
    write_text(dir / "client-ca.crt", pki().ca.cert_pem);
  };
}

}  // namespace

TEST_CASE(
    "--client-ca-file: no certificate, a foreign CA or a server-only certificate are refused") {
  running_server s(
      [](auto& o) {
        require_client_ca(o, std::filesystem::path(o.tls_cert_file).parent_path(), {});
      },
      write_client_ca());
  const std::string body = fixture("pod-create-kubectl-run.json");
  CHECK(post_status(s.port(), nullptr, "/mutate", body) == 0);
  CHECK(post_status(s.port(), &foreign_client(), "/mutate", body) == 0);
  CHECK(post_status(s.port(), &pki().server_only, "/mutate", body) == 0);
  // The whole port needs the certificate: probes use the metrics listener.
  CHECK(post_status(s.port(), nullptr, "/healthz", "") == 0);
  CHECK(s.mutate.calls == 0);
  // Without --client-allowed-names any certificate of the CA is accepted.
  std::string answer;
  CHECK(post_status(s.port(), &pki().intruder, "/mutate", body, &answer) == 200);
  CHECK(json::parse(answer)["kind"] == "AdmissionReview");
  CHECK(s.mutate.calls == 1);
  // The metrics listener stays plain HTTP for the kubelet's probes.
  CHECK(plain_get(s.srv->metrics_port(), "/healthz").status == 200);
}

TEST_CASE("--client-allowed-names: the CN or a DNS SAN must be listed, else 403") {
  running_server s(
      [](auto& o) {
        require_client_ca(o, std::filesystem::path(o.tls_cert_file).parent_path(),
                          {"kube-apiserver", "webhook-client.example"});
      },
      write_client_ca());
  const std::string body = fixture("pod-create-kubectl-run.json");
  std::string answer;
  CHECK(post_status(s.port(), &pki().apiserver, "/mutate?timeout=10s", body, &answer) == 200);
  const auto review = json::parse(answer);
  CHECK(review["kind"] == "AdmissionReview");
  CHECK(review["response"]["uid"] == json::parse(body)["request"]["uid"]);
  CHECK(post_status(s.port(), &pki().by_san, "/validate", body) == 200);
  CHECK(s.mutate.calls == 1);
  CHECK(s.validate.calls == 1);

  answer.clear();
  CHECK(post_status(s.port(), &pki().intruder, "/mutate", body, &answer) == 403);
  CHECK(answer.find("--client-allowed-names") != std::string::npos);
  CHECK(post_status(s.port(), &pki().intruder, "/healthz", "") == 403);
  CHECK(post_status(s.port(), nullptr, "/mutate", body) == 0);
  CHECK(post_status(s.port(), &foreign_client(), "/mutate", body) == 0);
  CHECK(s.mutate.calls == 1);
  CHECK(s.validate.calls == 1);

  // A refused connection stays refused for every request on it (keep-alive).
  tls_client c(s.port());
  c.use_certificate(pki().intruder.cert_pem, pki().intruder.key_pem);
  c.connect();
  CHECK(c.request("POST", "/mutate", body).status == 403);
  CHECK(s.mutate.calls == 1);
}

TEST_CASE(
    "--client-ca-file: a forged Namespace review from a client without a certificate changes "
    "nothing") {
  mlnetpol::policy::config cfg;
  cfg.tenant_namespaces = {"training"};
  mlnetpol::testing::policy_handlers handlers(cfg);
  running_server s(
      [](auto& o) {
        require_client_ca(o, std::filesystem::path(o.tls_cert_file).parent_path(),
                          {"kube-apiserver"});
      },
      write_client_ca());
  // The real label webhook behind the server's routes.
  s.mutate.answer = [&](const auto& r) { return handlers.mutate().handle(r); };
  s.validate.answer = [&](const auto& r) { return handlers.validate().handle(r); };

  auto pod = json::parse(fixture("pod-create-kubectl-run.json"));
  pod["request"]["namespace"] = "training";
  pod["request"]["object"]["metadata"]["namespace"] = "training";
  pod["request"]["object"]["metadata"]["labels"]["workload-type"] = "training";
  pod["request"]["object"]["spec"]["hostNetwork"] = true;
  auto denied = [&] {
    std::string answer;
    if (post_status(s.port(), &pki().apiserver, "/validate", pod.dump(), &answer) != 200)
      return false;
    return json::parse(answer)["response"]["allowed"] == false;
  };
  REQUIRE(denied());

  auto forged = json::parse(fixture("namespace-update-add-label.json"));
  for (auto* field : {&forged["request"]["object"], &forged["request"]["oldObject"]}) {
    (*field)["metadata"]["name"] = "training";
    (*field)["metadata"]["labels"]["mlnetpol.io/enforcement"] = "audit";
  }
  forged["request"]["name"] = "training";
  forged["request"]["namespace"] = "training";
  for (const char* path : {"/mutate", "/validate"}) {
    CHECK(post_status(s.port(), nullptr, path, forged.dump()) == 0);
    CHECK(post_status(s.port(), &foreign_client(), path, forged.dump()) == 0);
    CHECK(post_status(s.port(), &pki().intruder, path, forged.dump()) == 403);
  }
  CHECK(denied());
}

TEST_CASE("--client-ca-file is re-read like the serving pair; a bad one is fatal at start") {
  temp_dir other;
  running_server s(
      [](auto& o) {
        require_client_ca(o, std::filesystem::path(o.tls_cert_file).parent_path(), {});
      },
      write_client_ca());
  const std::string body = fixture("pod-create-kubectl-run.json");
  REQUIRE(post_status(s.port(), &pki().apiserver, "/mutate", body) == 200);

  // A new CA replaces the old one: its clients get in, the old CA's do not.
  const auto now = certs::wall_clock::now();
  certs::issue_options o;
  o.service = "next-ca";
  const auto next_ca =
      certs::issue_ca(o, now - std::chrono::minutes(5), now + std::chrono::hours(1));
  const auto next_client = certs::issue_client(
      next_ca, "kube-apiserver", {}, now - std::chrono::minutes(5), now + std::chrono::hours(1));
  const auto ca_path = s.dir.path / "client-ca.crt";
  write_text(ca_path, next_ca.cert_pem);
  CHECK(eventually([&] { return post_status(s.port(), &next_client, "/mutate", body) == 200; }));
  CHECK(post_status(s.port(), &pki().apiserver, "/mutate", body) == 0);

  // A broken or empty file keeps the CA in force (never an open port).
  write_text(ca_path, "not a certificate");
  std::this_thread::sleep_for(300ms);
  CHECK(post_status(s.port(), nullptr, "/mutate", body) == 0);
  CHECK(post_status(s.port(), &next_client, "/mutate", body) == 200);
  write_text(ca_path, "");
  std::this_thread::sleep_for(300ms);
  CHECK(post_status(s.port(), nullptr, "/mutate", body) == 0);
  CHECK(post_status(s.port(), &next_client, "/mutate", body) == 200);

  // At start a missing, empty or broken CA file stops serve.
  for (const std::string& text : {std::string(), std::string("garbage"), std::string("missing")}) {
    CAPTURE(text);
    CHECK_THROWS_AS(
        running_server([&](auto& opts) { opts.client_ca_file = (other.path / "ca.crt").string(); },
                       [&](const std::filesystem::path&) {
                         if (text != "missing") write_text(other.path / "ca.crt", text);
                       }),
        std::runtime_error);
    std::filesystem::remove(other.path / "ca.crt");
  }
}

TEST_CASE("--client-ca-file with a pair from PEM bytes (--cert-management=self)") {
  const auto pair = fresh_pair();
  running_server s(
      [](auto& o) {
        require_client_ca(o, std::filesystem::path(o.tls_cert_file).parent_path(),
                          {"kube-apiserver"});
        o.tls_cert_file.clear();
        o.tls_key_file.clear();
      },
      write_client_ca());
  REQUIRE(s.srv->set_certificate(pair.cert_pem, pair.key_pem).empty());
  const std::string body = fixture("pod-create-kubectl-run.json");
  auto status = [&](const certs::key_pair* client) {
    tls_client c(s.port(), pair.ca_cert_pem);
    if (client) c.use_certificate(client->cert_pem, client->key_pem);
    try {
      c.connect();
      return c.request("POST", "/mutate", body).status;
    } catch (const boost::system::system_error&) {
      return 0u;
    }
  };
  CHECK(status(nullptr) == 0);
  CHECK(status(&foreign_client()) == 0);
  CHECK(status(&pki().intruder) == 403);
  CHECK(status(&pki().apiserver) == 200);
  CHECK(s.mutate.calls == 1);
}
