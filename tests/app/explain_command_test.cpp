// `mlnetpol explain` end to end: runs the built binary on tests/fixtures/explain.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/process.hpp"

namespace {

const std::string fixtures = std::string(MLNETPOL_FIXTURES_DIR) + "/explain/";
const std::string cluster = " -f " + fixtures + "cluster.yaml";

std::string explain(const std::string& args, int& code) {
  return mlnetpol::testing::run_binary("explain" + cluster + " " + args, code);
}

}  // namespace

TEST_CASE("explain: allowed exits 0 and names the allowing policy and rule") {
  int code = -1;
  const auto out = explain("--from inference/api-0 --to database/postgres-0 --port 5432", code);
  CHECK(code == 0);
  CHECK(out.find("ALLOWED: inference/api-0 -> database/postgres-0 TCP/5432") != std::string::npos);
  CHECK(out.find("allowed by NetworkPolicy database/postgres-from-api spec.ingress[0]") !=
        std::string::npos);
}

TEST_CASE("explain: denied exits 1, names the nearest rule, what does not match and a fix") {
  int code = -1;
  const auto out = explain("--from training/trainer-0 --to database/postgres-0 --port 5432", code);
  CHECK(code == 1);
  CHECK(out.find("DENIED") == 0);
  CHECK(out.find("ingress of database/postgres-0: isolated, denied") != std::string::npos);
  CHECK(out.find("namespace training needs kubernetes.io/metadata.name=inference") !=
        std::string::npos);
  CHECK(out.find("kind: NetworkPolicy") != std::string::npos);
}

TEST_CASE("explain: the named port resolves on the destination; another port is named") {
  int code = -1;
  const auto out = explain("--from inference/api-0 --to database/postgres-0 --port 5433", code);
  CHECK(code == 1);
  CHECK(out.find("port TCP/5433 is not in [TCP/pg]") != std::string::npos);
}

TEST_CASE("explain -o json has the issue's shape") {
  int code = -1;
  const auto out =
      explain("--from training/trainer-0 --to database/postgres-0 --port 5432 -o json", code);
  CHECK(code == 1);
  const auto j = nlohmann::json::parse(out);
  CHECK(j["allowed"] == false);
  CHECK(j["egress"]["isolated"] == false);
  CHECK(j["egress"]["allowed"] == true);
  CHECK(j["egress"]["policies"].empty());
  CHECK(j["ingress"]["isolated"] == true);
  CHECK(j["ingress"]["allowed"] == false);
  REQUIRE(j["ingress"]["policies"].size() == 1);
  CHECK(j["ingress"]["policies"][0]["name"] == "postgres-from-api");
  CHECK(j["ingress"]["policies"][0]["effect"] == "isolates");
  CHECK(j.size() == 3);
}

TEST_CASE("explain --config: mlnetpol's set decides, and the fix is a configuration entry") {
  int code = -1;
  const auto out =
      explain("--config " + fixtures +
                  "config.yaml --from inference/api-0 --to database/postgres-0 --port 5432",
              code);
  CHECK(code == 1);
  CHECK(out.find("egress of inference/api-0: isolated, denied") != std::string::npos);
  CHECK(out.find("add the Service database/postgres to inference_allowed_services") !=
        std::string::npos);
}

TEST_CASE("explain --from-labels: a pod that does not exist yet") {
  int code = -1;
  const auto out = mlnetpol::testing::run_binary(
      "explain --config " + fixtures +
          "config-cilium.yaml --from-labels training:workload-type=training --to "
          "huggingface.co --port 443",
      code);
  CHECK(code == 1);
  CHECK(out.find("add \"huggingface.co\" to training_egress_fqdns") != std::string::npos);
  const auto s3 = mlnetpol::testing::run_binary(
      "explain --config " + fixtures +
          "config-cilium.yaml --from-labels training:workload-type=training --to "
          "my-bucket.s3.eu-west-1.amazonaws.com --port 443",
      code);
  CHECK(code == 0);
  CHECK(s3.find("ALLOWED") == 0);
}

TEST_CASE("explain: bad input exits 2 with a clear line") {
  int code = -1;
  auto out = explain("--from inference/nope --to database/postgres-0", code);
  CHECK(code == 2);
  CHECK(out.find("no pod inference/nope in the input (namespace inference has api-0)") !=
        std::string::npos);
  out = explain("--from inference/api-0 --to database/postgres-0 --protocol ICMP", code);
  CHECK(code == 2);
  CHECK(out.find("--protocol: 'ICMP' is not TCP, UDP or SCTP") != std::string::npos);
  out = explain("--from inference/api-0 --to database/postgres-0 --port 70000", code);
  CHECK(code == 2);
  out = mlnetpol::testing::run_binary("explain --from a/b --to c/d", code);
  CHECK(code == 2);
  CHECK(out.find("nothing to read") != std::string::npos);
  out = mlnetpol::testing::run_binary("explain -f /nonexistent.yaml --from a/b --to c/d", code);
  CHECK(code == 2);
}
