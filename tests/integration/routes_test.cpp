// Every route over real TLS, on the webhook listener and the plain-HTTP metrics listener.
#include <chrono>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;
using json = nlohmann::json;

TEST_CASE("POST /mutate and /validate with the API server's ?timeout= answer AdmissionReviews") {
  running_server s;
  s.mutate.answer = [](const mlnetpol::admission::review_request& r) {
    mlnetpol::admission::review_response out;
    out.patch = R"([{"op":"add","path":"/metadata/labels/workload-type","value":"training"}])";
    out.warnings.push_back("labelled " + std::string(r.name));
    return out;
  };
  tls_client c(s.port());
  c.connect();
  CHECK(c.alpn() == "http/1.1");
  CHECK(c.peer_serial() == serial_of_pem(shared_pair().cert_pem));

  const std::string body = fixture("pod-create-kubectl-run.json");
  const auto request_uid = json::parse(body)["request"]["uid"];
  auto r = c.request("POST", "/mutate?timeout=5s", body);
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto review = json::parse(r.body);
  CHECK(review["apiVersion"] == "admission.k8s.io/v1");
  CHECK(review["kind"] == "AdmissionReview");
  CHECK(review["response"]["uid"] == request_uid);
  CHECK(review["response"]["allowed"] == true);
  CHECK(review["response"]["patchType"] == "JSONPatch");
  CHECK(review["response"]["warnings"][0] == "labelled nginx");
  CHECK(s.mutate.calls == 1);

  r = c.request("POST", "/validate?timeout=10s", fixture("job-create-validating-webhook.json"),
                "application/json; charset=utf-8");
  CHECK(r.status == 200);
  review = json::parse(r.body);
  CHECK(review["response"]["uid"] ==
        json::parse(fixture("job-create-validating-webhook.json"))["request"]["uid"]);
  CHECK_FALSE(review["response"].contains("patch"));
  CHECK(s.validate.calls == 1);

  auto& m = s.srv->stats();
  CHECK(m.admission_requests("mutate", "Pod", "CREATE", "patched") == 1);
  CHECK(m.admission_requests("validate", "Job", "CREATE", "allowed") == 1);
  CHECK(m.http_requests(200) == 2);
}

TEST_CASE("every fixture passes through /mutate with its uid echoed") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(MLNETPOL_FIXTURES_DIR) / "admission")) {
    if (entry.path().filename() == "headers.json") continue;
    const std::string body = read_text(entry.path());
    CAPTURE(entry.path().filename().string());
    const auto r = c.request("POST", "/mutate?timeout=5s", body);
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["response"]["uid"] == json::parse(body)["request"]["uid"]);
    ++seen;
  }
  CHECK(seen >= 15);
  CHECK(s.mutate.calls == seen);
}

TEST_CASE("probes on the webhook listener; metrics and status only on the metrics listener") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  auto r = c.request("GET", "/healthz", "", "");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  r = c.request("GET", "/readyz", "", "");
  CHECK(r.status == 200);
  CHECK(s.srv->ready());
  // Whoever reaches the webhook port (every client of the API server's network) must not read
  // the configuration summary or the metrics.
  r = c.request("GET", "/status", "", "");
  CHECK(r.status == 404);
  CHECK(r.body.find("tenants") == std::string::npos);
  r = c.request("GET", "/metrics", "", "");
  CHECK(r.status == 404);
  CHECK(r.body.find("mlnetpol_") == std::string::npos);
  r = plain_get(s.srv->metrics_port(), "/status");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == R"({"tenants":0})");
  r = plain_get(s.srv->metrics_port(), "/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(r.body.find("mlnetpol_http_requests_total{code=\"200\"} 3") != std::string::npos);
  CHECK(r.body.find("mlnetpol_http_requests_total{code=\"404\"} 2") != std::string::npos);
  CHECK(r.body.find("\nmlnetpol_policies 7\n") != std::string::npos);
  CHECK(r.body.find("mlnetpol_policy_count") == std::string::npos);  // _count is for summaries
  CHECK(r.body.find("\nprocess_open_fds ") != std::string::npos);
  CHECK(r.body.find("\nmlnetpol_build_info{version=\"") != std::string::npos);
  // The configuration was loaded at start, just now.
  const std::string loaded_line = "\nmlnetpol_config_last_reload_success_timestamp_seconds ";
  const auto loaded_at = r.body.find(loaded_line);
  REQUIRE(loaded_at != std::string::npos);
  const double loaded = std::stod(r.body.substr(loaded_at + loaded_line.size()));
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(loaded > now_s - 600);
  CHECK(loaded <= now_s + 1);
  CHECK(s.srv->stats().certificate_reload() > now_s - 600);
  // The certificate's notAfter is about a year ahead.
  const double expiry = s.srv->stats().certificate_expiry();
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(expiry > now + 300 * 86400.0);
  CHECK(expiry < now + 400 * 86400.0);
}

TEST_CASE("the plain-HTTP metrics listener serves probes and metrics, not admission") {
  running_server s;
  REQUIRE(s.srv->metrics_port() != 0);
  auto r = plain_get(s.srv->metrics_port(), "/healthz");
  CHECK(r.status == 200);
  r = plain_get(s.srv->metrics_port(), "/readyz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  r = plain_get(s.srv->metrics_port(), "/metrics");
  CHECK(r.status == 200);
  CHECK(r.body.find("# TYPE mlnetpol_admission_duration_seconds histogram") != std::string::npos);
  r = plain_get(s.srv->metrics_port(), "/status");
  CHECK(r.status == 200);
  CHECK(r.body == R"({"tenants":0})");
  r = plain_get(s.srv->metrics_port(), "/mutate", "POST");
  CHECK(r.status == 404);
}

TEST_CASE("--metrics-bind-address 0 disables the plain listener") {
  running_server s([](auto& o) { o.metrics_bind_address = "0"; });
  CHECK(s.srv->metrics_port() == 0);
  tls_client c(s.port());
  c.connect();
  CHECK(c.request("GET", "/readyz", "", "").status == 200);
}

TEST_CASE("keep-alive: many requests over one TLS connection") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  const std::string body = fixture("namespace-create-plain.json");
  for (int i = 0; i < 25; ++i) {
    const auto r = c.request("POST", "/validate?timeout=5s", body);
    REQUIRE(r.status == 200);
    CHECK(r.keep_alive);
    CHECK(r.connection.empty());
  }
  CHECK(s.validate.calls == 25);
  // Pipelined: two requests in one write, two answers in order.
  const std::string one =
      "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  c.write_raw(one + one);
  CHECK(c.read_response().status == 200);
  CHECK(c.read_response().status == 200);
  CHECK(s.validate.calls == 27);
}

TEST_CASE("Connection: close is honoured") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  c.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto r = c.read_response();
  CHECK(r.status == 200);
  CHECK_FALSE(r.keep_alive);
  CHECK(c.time_until_closed(2000ms) < 1500ms);
}

TEST_CASE("Expect: 100-continue gets an interim answer before the body") {
  running_server s;
  tls_client c(s.port());
  c.connect();
  const std::string body = fixture("namespace-create-plain.json");
  c.write_raw(
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: "
      "100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  CHECK(c.read_response().status == 100);
  c.write_raw(body);
  CHECK(c.read_response().status == 200);
}
