// The certificate manager against a fake API server that keeps the Secret and both webhook
// configurations (merge patches and JSON patches applied, resourceVersions guarded): first
// issuance, nothing written while all is valid, rotation before expiry, a corrupted Secret and an
// edited caBundle repaired. The rotation protocol itself is tested step by step in
// tests/certs/rotation_test.cpp; this tests the runner that carries it out.
#include "controller/cert_manager.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "certs/certs.hpp"
#include "common/base64.hpp"
#include "tests/controller/fake_cluster.hpp"
#include "tests/support/fake_apiserver.hpp"
#include "tests/support/fake_apiserver_config.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using mlnetpol::controller::testing::eventually;
using mlnetpol::testing::canned_response;
using mlnetpol::testing::fake_apiserver;
using mlnetpol::testing::received_request;
using nlohmann::json;

namespace {

constexpr const char* secret_path = "/api/v1/namespaces/mlnetpol-system/secrets/mlnetpol-tls";
constexpr const char* secrets_path = "/api/v1/namespaces/mlnetpol-system/secrets";
constexpr const char* mutating_path =
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/mlnetpol";
constexpr const char* validating_path =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/mlnetpol";

canned_response json_response(unsigned status, const json& body) {
  canned_response r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = body.dump();
  return r;
}

canned_response status_response(unsigned status, const std::string& reason) {
  return json_response(status, {{"kind", "Status"},
                                {"apiVersion", "v1"},
                                {"status", "Failure"},
                                {"reason", reason},
                                {"message", reason},
                                {"code", status}});
}

json webhook_configuration(const std::string& kind, int entries) {
  json hooks = json::array();
  for (int i = 0; i < entries; ++i) {
    hooks.push_back({{"name", "w" + std::to_string(i) + ".mlnetpol.io"},
                     {"clientConfig",
                      {{"service", {{"name", "mlnetpol"}, {"namespace", "mlnetpol-system"}}}}}});
  }
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", kind},
          {"metadata", {{"name", "mlnetpol"}, {"resourceVersion", "1"}}},
          {"webhooks", hooks}};
}

// The three objects the manager reads and writes, kept as the API server would keep them.
class cert_objects {
 public:
  explicit cert_objects(fake_apiserver& server) {
    objects_[mutating_path] = webhook_configuration("MutatingWebhookConfiguration", 1);
    objects_[validating_path] = webhook_configuration("ValidatingWebhookConfiguration", 2);
    server.on("GET", secret_path, [this](const received_request&) { return get(secret_path); });
    server.on("PATCH", secret_path,
              [this](const received_request& r) { return merge_patch(secret_path, r); });
    server.on("POST", secrets_path, [this](const received_request& r) { return create(r); });
    // The collection: a list and a watch of the Secret by name, as the API server answers them.
    server.on("GET", secrets_path, [this](const received_request& r) { return collection(r); });
    for (const char* path : {mutating_path, validating_path}) {
      server.on("GET", path, [this, path](const received_request&) { return get(path); });
      server.on("PATCH", path,
                [this, path](const received_request& r) { return json_patch(path, r); });
    }
  }

  std::optional<json> object(const std::string& path) const {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(path);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  // Someone else's write (kubectl edit): the object replaced, a new resourceVersion.
  void replace(const std::string& path, json value) {
    std::lock_guard lock(mutex_);
    value["metadata"]["resourceVersion"] = std::to_string(++version_);
    objects_[path] = std::move(value);
  }
  int writes() const { return writes_.load(); }
  // The queries of every list and watch of the Secrets.
  std::vector<std::string> collection_queries() const {
    std::lock_guard lock(mutex_);
    return collection_queries_;
  }
  int secret_reads() const { return secret_reads_.load(); }

  // The PEM texts of every caBundle entry of a configuration, decoded.
  std::vector<std::string> bundles(const std::string& path) const {
    std::vector<std::string> out;
    const auto o = object(path);
    for (const auto& hook : (*o)["webhooks"]) {
      const auto& client = hook["clientConfig"];
      out.push_back(client.contains("caBundle")
                        ? base64_decode(client["caBundle"].get<std::string>()).value_or("?")
                        : "");
    }
    return out;
  }
  std::string secret_data(const std::string& key) const {
    const auto s = object(secret_path);
    if (!s || !(*s)["data"].contains(key)) return "";
    return base64_decode((*s)["data"][key].get<std::string>()).value_or("?");
  }

 private:
  canned_response get(const std::string& path) {
    if (path == secret_path) ++secret_reads_;
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(path);
    if (it == objects_.end()) return status_response(404, "NotFound");
    return json_response(200, it->second);
  }
  // A list of the Secret (when it exists) at the current version; a watch from a version: a
  // MODIFIED event once the Secret's differs, or an empty stream ended after a while.
  canned_response collection(const received_request& r) {
    {
      std::lock_guard lock(mutex_);
      collection_queries_.push_back(r.query);
    }
    if (r.query.find("watch=1") == std::string::npos) {
      std::lock_guard lock(mutex_);
      json list = {{"kind", "SecretList"},
                   {"apiVersion", "v1"},
                   {"metadata", {{"resourceVersion", std::to_string(version_)}}},
                   {"items", json::array()}};
      if (const auto it = objects_.find(secret_path); it != objects_.end())
        list["items"].push_back(it->second);
      return json_response(200, list);
    }
    const auto at = r.query.find("resourceVersion=");
    const std::string since =
        at == std::string::npos ? "" : r.query.substr(at + 16, r.query.find('&', at) - at - 16);
    canned_response answer;
    answer.headers = {{"Content-Type", "application/json"}};
    answer.chunked = true;
    for (int i = 0; i < 60; ++i) {  // up to 1.2 s, as a server holding the watch open
      {
        std::lock_guard lock(mutex_);
        const auto it = objects_.find(secret_path);
        if (it != objects_.end() && it->second["metadata"]["resourceVersion"] != since) {
          answer.chunks = {json{{"type", "MODIFIED"}, {"object", it->second}}.dump() + "\n"};
          return answer;
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    return answer;
  }
  canned_response create(const received_request& r) {
    json body = json::parse(r.body);
    std::lock_guard lock(mutex_);
    if (objects_.count(secret_path) != 0) return status_response(409, "AlreadyExists");
    body["metadata"]["resourceVersion"] = std::to_string(++version_);
    objects_[secret_path] = body;
    ++writes_;
    return json_response(201, body);
  }
  canned_response merge_patch(const std::string& path, const received_request& r) {
    const json patch = json::parse(r.body);
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(path);
    if (it == objects_.end()) return status_response(404, "NotFound");
    const auto guard = patch["metadata"].value("resourceVersion", "");
    if (!guard.empty() && guard != it->second["metadata"]["resourceVersion"])
      return status_response(409, "Conflict");
    it->second.merge_patch(patch);
    it->second["metadata"]["resourceVersion"] = std::to_string(++version_);
    ++writes_;
    return json_response(200, it->second);
  }
  canned_response json_patch(const std::string& path, const received_request& r) {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(path);
    if (it == objects_.end()) return status_response(404, "NotFound");
    try {
      it->second = it->second.patch(json::parse(r.body));  // a failed "test" throws
    } catch (const json::exception&) {
      return status_response(422, "Invalid");
    }
    it->second["metadata"]["resourceVersion"] = std::to_string(++version_);
    ++writes_;
    return json_response(200, it->second);
  }

  mutable std::mutex mutex_;
  std::map<std::string, json> objects_;
  int version_ = 100;
  std::vector<std::string> collection_queries_;
  std::atomic<int> writes_{0};
  std::atomic<int> secret_reads_{0};
};

// The server's certificate store: takes a pair only when both halves parse, as set_certificate.
class pair_store {
 public:
  std::string install(const certs::key_pair& pair) {
    if (!certs::inspect(pair.cert_pem) || pair.key_pem.find("PRIVATE KEY") == std::string::npos)
      return "not a certificate and key";
    std::lock_guard lock(mutex_);
    pairs_.push_back(pair);
    return "";
  }
  std::vector<certs::key_pair> pairs() const {
    std::lock_guard lock(mutex_);
    return pairs_;
  }
  std::optional<certs::key_pair> current() const {
    std::lock_guard lock(mutex_);
    if (pairs_.empty()) return std::nullopt;
    return pairs_.back();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<certs::key_pair> pairs_;
};

// Short lives so a rotation happens within a test: the serving certificate renews after 4 s, 2 s
// before it expires.
cert_manager_options quick_options() {
  cert_manager_options o;
  o.rotation.serving_lifetime = 6s;
  o.rotation.ca_lifetime = 60s;
  o.rotation.propagation = 1s;
  o.rotation.clock_margin = 1s;
  o.check_interval = 100ms;
  o.identity = "test-replica";
  return o;
}

// Lives long enough that no renewal falls due during a test.
cert_manager_options steady_options() {
  cert_manager_options o = quick_options();
  o.rotation.serving_lifetime = 600s;
  o.rotation.ca_lifetime = 3600s;
  return o;
}

struct fixture {
  fake_apiserver server;
  cert_objects cluster{server};
  pair_store store;
  std::unique_ptr<cert_manager> manager;

  explicit fixture(cert_manager_options options = quick_options()) {
    manager = std::make_unique<cert_manager>(
        mlnetpol::testing::config_for(server), std::move(options),
        [this](const certs::key_pair& p) { return store.install(p); }, [] { return true; });
    manager->start();
  }
  // The server first: its threads may still be inside a handler of `cluster` (a held watch).
  ~fixture() {
    manager->stop();
    server.stop();
  }

  // A pair in force, signed by the Secret's signing CA, which every caBundle entry trusts.
  bool settled() const {
    const auto pair = store.current();
    const std::string ca = cluster.secret_data("signing-ca.crt");
    if (!pair || ca.empty() || !manager->not_ready().empty()) return false;
    if (pair->cert_pem != cluster.secret_data("tls.crt")) return false;
    if (!certs::signed_by(pair->cert_pem, ca)) return false;
    const auto trusted = certs::split_bundle(ca);
    for (const char* path : {mutating_path, validating_path}) {
      for (const auto& bundle : cluster.bundles(path)) {
        const auto cas = certs::split_bundle(bundle);
        if (std::find(cas.begin(), cas.end(), trusted.front()) == cas.end()) return false;
      }
    }
    return true;
  }
};

std::string metric(const std::string& text, const std::string& sample) {
  const auto at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return "";
  const auto start = at + sample.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

TEST_CASE("cert_manager: first issuance creates the Secret, trusts the CA, then serves") {
  fixture f;
  CHECK_FALSE(f.manager->not_ready().empty());
  REQUIRE(eventually([&] { return f.settled(); }));
  const auto pair = *f.store.current();
  const auto info = certs::inspect(pair.cert_pem);
  REQUIRE(info.has_value());
  CHECK(std::find(info->dns_names.begin(), info->dns_names.end(),
                  "mlnetpol.mlnetpol-system.svc") != info->dns_names.end());
  CHECK(f.cluster.secret_data("tls.key") == pair.key_pem);
  // caBundle got the CA before it signed anything: the first write of each configuration.
  CHECK(f.cluster.bundles(mutating_path).size() == 1);
  CHECK(f.cluster.bundles(validating_path).size() == 2);
  CHECK(f.cluster.secret_data("ca.crt").find("BEGIN CERTIFICATE") != std::string::npos);
  const auto labels = f.cluster.object(secret_path).value()["metadata"]["labels"];
  CHECK(labels["app.kubernetes.io/component"] == "webhook-tls");
  CHECK(metric(f.manager->metrics_text(), "mlnetpol_cert_reloads_total{replica=\"test-replica\"}") ==
        "1");
}

TEST_CASE("cert_manager: nothing is written while the Secret and caBundles are valid") {
  fixture f(steady_options());
  REQUIRE(eventually([&] { return f.settled(); }));
  const int writes = f.cluster.writes();
  const int reads = f.cluster.secret_reads();
  // Twenty more reads of the Secret: several leader passes (every 100 ms) and watch re-reads.
  REQUIRE(eventually([&] { return f.cluster.secret_reads() >= reads + 20; }));
  CHECK(f.cluster.writes() == writes);
  CHECK(f.store.pairs().size() == 1);
}

TEST_CASE("cert_manager: the Secret is listed and watched by its name only (RBAC resourceNames)") {
  fixture f(steady_options());
  REQUIRE(eventually([&] { return f.settled(); }));
  REQUIRE(eventually([&] { return f.cluster.collection_queries().size() >= 2; }));
  int lists = 0, watches = 0;
  for (const auto& q : f.cluster.collection_queries()) {
    CAPTURE(q);
    CHECK(q.find("fieldSelector=metadata.name%3Dmlnetpol-tls") != std::string::npos);
    ++(q.find("watch=1") == std::string::npos ? lists : watches);
  }
  CHECK(lists >= 1);
  CHECK(watches >= 1);
}

TEST_CASE("cert_manager: the serving certificate is renewed before it expires") {
  fixture f;
  REQUIRE(eventually([&] { return f.settled(); }));
  const auto first = *f.store.current();
  const auto first_info = certs::inspect(first.cert_pem).value();
  REQUIRE(eventually([&] { return f.store.pairs().size() >= 2; }));
  const auto seen = certs::wall_clock::now();
  const auto second = f.store.pairs()[1];
  const auto second_info = certs::inspect(second.cert_pem).value();
  CHECK(second_info.serial_hex != first_info.serial_hex);
  // In force while the first one was still valid.
  CHECK(seen < first_info.not_after);
  CHECK(second_info.not_after > first_info.not_after);
  REQUIRE(eventually([&] { return f.settled(); }));
  CHECK(eventually([&] {
    return metric(f.manager->metrics_text(), "mlnetpol_cert_rotations_total{kind=\"serving\"}") !=
           "0";
  }));
}

TEST_CASE("cert_manager: a corrupted Secret is repaired, the pair in force kept meanwhile") {
  fixture f(steady_options());
  REQUIRE(eventually([&] { return f.settled(); }));
  const auto before = *f.store.current();
  json secret = f.cluster.object(secret_path).value();
  secret["data"]["tls.crt"] = base64_encode("-----BEGIN CERTIFICATE-----\ngarbage\n");
  f.cluster.replace(secret_path, secret);
  REQUIRE(eventually(
      [&] { return certs::inspect(f.cluster.secret_data("tls.crt")).has_value(); }));
  REQUIRE(eventually([&] { return f.settled(); }));
  // The garbage never reached the server: every pair in force parses, the first stayed until
  // the repaired one replaced it.
  for (const auto& p : f.store.pairs()) CHECK(certs::inspect(p.cert_pem).has_value());
  CHECK(f.store.pairs().front() == before);
}

TEST_CASE("cert_manager: a caBundle edited by someone else is set back to the Secret's CAs") {
  fixture f(steady_options());
  REQUIRE(eventually([&] { return f.settled(); }));
  const auto good = f.cluster.bundles(validating_path);
  json edited = f.cluster.object(validating_path).value();
  edited["webhooks"][1]["clientConfig"]["caBundle"] =
      base64_encode(mlnetpol::testing::test_pki::shared().ca.cert_pem());
  f.cluster.replace(validating_path, edited);
  REQUIRE(f.cluster.bundles(validating_path) != good);
  REQUIRE(eventually([&] { return f.cluster.bundles(validating_path) == good; }));
  CHECK(f.settled());
  // Counted once the patch's answer is back (the fake applied it a moment before).
  CHECK(eventually([&] {
    return metric(f.manager->metrics_text(), "mlnetpol_cert_cabundle_repairs_total") == "1";
  }));
}
