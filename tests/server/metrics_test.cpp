#include "server/metrics.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace mlnetpol::server;

namespace {
bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}
}  // namespace

TEST_CASE("admission counters and histogram in the text format") {
  metrics m;
  m.observe_admission("mutate", "Pod", "CREATE", "patched", 0.0003);
  m.observe_admission("mutate", "Pod", "CREATE", "patched", 0.002);
  m.observe_admission("validate", "Namespace", "UPDATE", "denied", 3.0);
  CHECK(m.admission_requests("mutate", "Pod", "CREATE", "patched") == 2);
  CHECK(m.admission_requests("validate", "Pod", "CREATE", "patched") == 0);
  const std::string text = m.render();
  CHECK(text.find("# TYPE mlnetpol_admission_requests_total counter\n") != std::string::npos);
  CHECK(has_line(
      text,
      R"(mlnetpol_admission_requests_total{webhook="mutate",kind="Pod",operation="CREATE",decision="patched"} 2)"));
  CHECK(has_line(
      text,
      R"(mlnetpol_admission_requests_total{webhook="validate",kind="Namespace",operation="UPDATE",decision="denied"} 1)"));
  CHECK(text.find("# TYPE mlnetpol_admission_duration_seconds histogram\n") != std::string::npos);
  // Cumulative buckets: 0.0003 falls in le=0.0005, 0.002 in le=0.0025.
  CHECK(has_line(text,
                 R"(mlnetpol_admission_duration_seconds_bucket{webhook="mutate",le="0.00025"} 0)"));
  CHECK(has_line(text,
                 R"(mlnetpol_admission_duration_seconds_bucket{webhook="mutate",le="0.0005"} 1)"));
  CHECK(has_line(text,
                 R"(mlnetpol_admission_duration_seconds_bucket{webhook="mutate",le="0.0025"} 2)"));
  CHECK(has_line(text,
                 R"(mlnetpol_admission_duration_seconds_bucket{webhook="mutate",le="+Inf"} 2)"));
  CHECK(has_line(text, R"(mlnetpol_admission_duration_seconds_count{webhook="mutate"} 2)"));
  // 3 s is beyond the last finite bucket: only +Inf has it.
  CHECK(has_line(text,
                 R"(mlnetpol_admission_duration_seconds_bucket{webhook="validate",le="2.5"} 0)"));
  CHECK(has_line(text,
                 R"(mlnetpol_admission_duration_seconds_bucket{webhook="validate",le="+Inf"} 1)"));
  CHECK(has_line(text, R"(mlnetpol_admission_duration_seconds_sum{webhook="validate"} 3)"));
}

TEST_CASE("label values from requests come from closed sets: junk kinds create no series") {
  metrics m;
  m.observe_admission("mutate", "Pod", "CREATE", "allowed", 0.001);
  m.observe_admission("mutate", "CiliumNetworkPolicy", "UPDATE", "denied", 0.001);
  const std::size_t before = m.admission_series();
  for (int i = 1; i <= 100; ++i) {
    m.observe_admission("mutate", "Junk" + std::to_string(i), "CREATE", "allowed", 0.001);
  }
  CHECK(m.admission_series() == before + 1);
  CHECK(m.admission_requests("mutate", "other", "CREATE", "allowed") == 100);
  m.observe_admission("mutate", "Bad\"Kind\\\n", "PATCH\n", "maybe", 0.001);
  CHECK(m.admission_requests("mutate", "other", "other", "other") == 1);
  CHECK(m.render().find("Junk") == std::string::npos);
  CHECK(m.render().find("Bad") == std::string::npos);
}

TEST_CASE("a webhook's series, found once by its route, count as observe_admission does") {
  metrics m;
  metrics::webhook_series& validate = m.webhook("validate");
  CHECK(&validate == &m.webhook("validate"));
  // Found before any request: no histogram yet.
  CHECK(m.render().find(R"(webhook="validate")") == std::string::npos);
  validate.observe("Pod", "CREATE", "denied", 0.001);
  m.observe_admission("validate", "Pod", "CREATE", "denied", 0.001);
  validate.observe("Junk", "PATCH", "maybe", 0.001);
  validate.observe("", "", "error", 0.001);
  CHECK(m.admission_requests("validate", "Pod", "CREATE", "denied") == 2);
  CHECK(m.admission_requests("validate", "other", "other", "other") == 1);
  CHECK(m.admission_requests("validate", "", "", "error") == 1);
  CHECK(m.admission_requests("mutate", "Pod", "CREATE", "denied") == 0);
  CHECK(m.admission_series() == 3);
  CHECK(has_line(m.render(), R"(mlnetpol_admission_duration_seconds_count{webhook="validate"} 4)"));
  // Known rules and modes go through their cached series, others through the family.
  m.count_violation("workload-type-missing", "enforce");
  m.count_violation("workload-type-missing", "enforce");
  m.count_violation("workload-type-missing", "warn");
  m.count_violation("invented-rule", "enforce");
  CHECK(m.violations("workload-type-missing", "enforce") == 2);
  CHECK(m.violations("workload-type-missing", "warn") == 1);
  CHECK(m.violations("invented-rule", "enforce") == 1);
}

TEST_CASE("http codes, violations, gauges and counters") {
  metrics m;
  m.count_http(200);
  m.count_http(200);
  m.count_http(413);
  m.count_http(9999);  // out of range: ignored, not a crash
  m.count_violation("workload-type-required", "enforce");
  m.add_in_flight(2);
  m.add_in_flight(-1);
  m.count_tls_handshake_error();
  m.set_certificate_expiry(1893456000);
  CHECK(m.http_requests(200) == 2);
  CHECK(m.violations("workload-type-required", "enforce") == 1);
  const std::string text = m.render();
  CHECK(has_line(text, R"(mlnetpol_http_requests_total{code="200"} 2)"));
  CHECK(has_line(text, R"(mlnetpol_http_requests_total{code="413"} 1)"));
  CHECK(text.find(R"(code="404")") == std::string::npos);
  CHECK(has_line(
      text, R"(mlnetpol_policy_violations_total{rule="workload-type-required",mode="enforce"} 1)"));
  CHECK(has_line(text, "mlnetpol_in_flight_requests 1"));
  CHECK(has_line(text, "mlnetpol_tls_handshake_errors_total 1"));
  CHECK(has_line(text, "mlnetpol_certificate_expiry_timestamp_seconds 1893456000"));
  // Setting the expiry means a pair was put in force: its time is the last good reload.
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(m.certificate_reload() > now_s - 60);
  CHECK(m.certificate_reload() <= now_s + 1);
  CHECK(text.find("\nmlnetpol_certificate_last_reload_success_timestamp_seconds ") !=
        std::string::npos);
}

TEST_CASE("connection refusals and evictions: every label value of their closed sets, always") {
  metrics m;
  m.count_connection_rejected(connection_refusal::max_connections_per_peer);
  m.count_connection_evicted(eviction_state::idle);
  m.count_connection_evicted(eviction_state::idle);
  CHECK(m.connections_rejected() == 1);
  CHECK(m.connections_evicted() == 2);
  const std::string text = m.render();
  CHECK(has_line(text, R"(mlnetpol_connections_rejected_total{reason="max_connections"} 0)"));
  CHECK(has_line(text,
                 R"(mlnetpol_connections_rejected_total{reason="max_connections_per_peer"} 1)"));
  CHECK(has_line(text, R"(mlnetpol_connections_evicted_total{state="tls_handshake"} 0)"));
  CHECK(has_line(text, R"(mlnetpol_connections_evicted_total{state="idle"} 2)"));
  CHECK(has_line(text, R"(mlnetpol_connections_evicted_total{state="busy"} 0)"));
}

TEST_CASE("every family has HELP and TYPE, and every sample line parses") {
  metrics m;
  m.observe_admission("validate", "Pod", "CREATE", "allowed", 0.01);
  const std::string text = m.render();
  std::size_t start = 0;
  std::string last_type_family;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // the text ends with a newline
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      last_type_family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    CAPTURE(line);
    CHECK(line.rfind(last_type_family, 0) == 0);  // samples follow their family's TYPE
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    const std::string value = line.substr(space + 1);
    char* parse_end = nullptr;
    std::strtod(value.c_str(), &parse_end);
    CHECK(*parse_end == '\0');
  }
}
