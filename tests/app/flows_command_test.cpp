// `mlnetpol flows` end to end: real Hubble lines (tests/fixtures/hubble/sample*) and generated
// ones.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/files.hpp"
#include "tests/support/process.hpp"

namespace {
const std::string fixtures = std::string(MLNETPOL_FIXTURES_DIR);

// Default deny in bookinfo (ingress) and kube-system (egress): the real sample's connections.
const char* deny_yaml = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: bookinfo}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: kube-system}
spec: {podSelector: {}, policyTypes: [Egress]}
)";

// A file in this run's scratch directory (removed at exit): its path.
std::string temp_file(const std::string& name, const std::string& text) {
  static const mlnetpol::testing::temp_dir scratch("mlnetpol-flows-test");
  mlnetpol::testing::write_text(scratch.path / name, text);
  return (scratch.path / name).string();
}

std::string flow_line(const std::string& ns, const std::string& pod, const std::string& type,
                      const std::string& host, int port) {
  return R"({"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.1.5","destination":"52.1.2.3","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":40000,"destination_port":)" +
         std::to_string(port) + R"(,"flags":{"SYN":true}}},"source":{"namespace":")" + ns +
         R"(","pod_name":")" + pod + R"(","labels":["k8s:io.kubernetes.pod.namespace=)" + ns +
         R"(","k8s:workload-type=)" + type +
         R"("]},"destination":{"identity":2,"labels":["reserved:world"]},"destination_names":[")" +
         host + R"(."],"Type":"L3_L4"}})";
}

}  // namespace

TEST_CASE("flows: the real samples with no policy drop nothing; replies, L7 and ICMP are counted") {
  int code = -1;
  const auto out = mlnetpol::testing::run_binary("flows " + fixtures +
                                                  "/hubble/sample1-hubble-otel-gke-l3l4.jsonl -f " +
                                                  temp_file("empty.yaml", "") + " ",
                                              code);
  CHECK(code == 0);
  CHECK(out.find("read 4 lines: 2 flows judged, 0 would be dropped") == 0);
  CHECK(out.find("skipped 2: replies") != std::string::npos);
  const auto l7 = mlnetpol::testing::run_binary("flows " + fixtures +
                                                 "/hubble/sample2-hubble-otel-dns-l7.jsonl -f " +
                                                 temp_file("empty.yaml", ""),
                                             code);
  CHECK(code == 0);
  CHECK(l7.find("skipped 1: L7 records") != std::string::npos);
  const auto icmp = mlnetpol::testing::run_binary(
      "flows " + fixtures + "/hubble/sample3-hubble-otel-icmpv4-reserved.jsonl -f " +
          temp_file("empty.yaml", ""),
      code);
  CHECK(code == 0);
  CHECK(icmp.find("without a TCP/UDP/SCTP port (ICMP)") != std::string::npos);
}

TEST_CASE("flows: the real samples against default deny: grouped drops and exit 1") {
  int code = -1;
  const auto out = mlnetpol::testing::run_binary("flows " + fixtures +
                                                  "/hubble/sample1-hubble-otel-gke-l3l4.jsonl -f " +
                                                  temp_file("deny.yaml", deny_yaml),
                                              code);
  CHECK(code == 1);
  CHECK(out.find("2 flows judged, 2 would be dropped") != std::string::npos);
  CHECK(out.find("DROP 1 flow: istio-system (no workload-type) -> bookinfo pods app=reviews") !=
        std::string::npos);
  CHECK(out.find("TCP/15090") != std::string::npos);
  CHECK(out.find("DROP 1 flow: kube-system (no workload-type) -> ") != std::string::npos);
  CHECK(out.find("kind: NetworkPolicy") != std::string::npos);
}

TEST_CASE("flows --config: what enforce would drop, with the configuration entry that allows it") {
  int code = -1;
  const auto out =
      mlnetpol::testing::run_binary("flows " + fixtures + "/hubble/generated-ml.jsonl --config " +
                                     fixtures + "/explain/config-cilium.yaml",
                                 code);
  CHECK(code == 1);
  CHECK(out.find("3 flows judged, 2 would be dropped") != std::string::npos);
  CHECK(out.find("add the Service database/postgres to inference_allowed_services") !=
        std::string::npos);
  CHECK(out.find("add \"huggingface.co\" to training_egress_fqdns") != std::string::npos);
}

TEST_CASE("flows: generated lines are grouped and counted") {
  std::string lines;
  for (int i = 0; i < 500; ++i) {
    lines += flow_line("training", "trainer-" + std::to_string(i % 7), "training",
                       i % 2 ? "huggingface.co" : "bucket.s3.us-west-2.amazonaws.com", 443) +
             "\n";
    lines +=
        flow_line("inference", "api-" + std::to_string(i % 3), "inference", "pypi.org", 443) + "\n";
  }
  lines += "not json\n{\"node_status\":{}}\n";
  int code = -1;
  const auto out =
      mlnetpol::testing::run_binary("flows " + temp_file("generated.jsonl", lines) + " --config " +
                                     fixtures + "/explain/config-cilium.yaml",
                                 code);
  CHECK(code == 1);
  CHECK(out.find("read 1002 lines: 1000 flows judged, 750 would be dropped") == 0);
  CHECK(out.find("DROP 500 flows: inference (workload-type=inference) -> pypi.org TCP/443") !=
        std::string::npos);
  CHECK(out.find("DROP 250 flows: training (workload-type=training) -> huggingface.co TCP/443") !=
        std::string::npos);
  CHECK(out.find("add \"pypi.org\" to inference_egress_fqdns") != std::string::npos);
}

TEST_CASE("flows: no file is bad input") {
  int code = -1;
  const auto out = mlnetpol::testing::run_binary("flows --config x.yaml", code);
  CHECK(code == 2);
  CHECK(out.find("give one flows file") != std::string::npos);
}
