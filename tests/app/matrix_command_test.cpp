// `mlnetpol matrix` end to end: runs the built binary on tests/fixtures/explain.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/process.hpp"

namespace {
const std::string fixtures = std::string(MLNETPOL_FIXTURES_DIR) + "/explain/";
}  // namespace

TEST_CASE("matrix: a truth table of the pods given") {
  int code = -1;
  const auto out =
      mlnetpol::testing::run_binary("matrix -f " + fixtures + "cluster.yaml --port 5432", code);
  CHECK(code == 0);
  CHECK(out ==
        "-\ttraining/trainer-0\ttraining/trainer-1\tinference/api-0\tdatabase/postgres-0\n"
        "training/trainer-0\t.\t.\t.\tX\n"
        "training/trainer-1\t.\t.\t.\tX\n"
        "inference/api-0\t.\t.\t.\t.\n"
        "database/postgres-0\t.\t.\t.\tX\n");
}

TEST_CASE("matrix -o json: matrix[from][to]") {
  int code = -1;
  const auto out = mlnetpol::testing::run_binary(
      "matrix -f " + fixtures + "cluster.yaml --port 5432 -o json", code);
  CHECK(code == 0);
  const auto j = nlohmann::json::parse(out);
  CHECK(j["port"] == 5432);
  CHECK(j["protocol"] == "TCP");
  CHECK(j["pods"].size() == 4);
  CHECK(j["matrix"]["inference/api-0"]["database/postgres-0"] == true);
  CHECK(j["matrix"]["training/trainer-0"]["database/postgres-0"] == false);
}

TEST_CASE("matrix --config alone: sample pods and the places outside") {
  int code = -1;
  const auto out = mlnetpol::testing::run_binary(
      "matrix --config " + fixtures + "config-cilium.yaml --port 443 -o json", code);
  CHECK(code == 0);
  const auto j = nlohmann::json::parse(out);
  const auto& m = j["matrix"];
  CHECK(m["training/training"]["my-bucket.s3.us-east-1.amazonaws.com (52.216.1.10)"] == true);
  CHECK(m["training/training"]["sts.amazonaws.com (52.94.2.10)"] == true);
  CHECK(m["training/training"]["example.com (93.184.216.34)"] == false);
  CHECK(m["inference/inference"]["sts.amazonaws.com (52.94.2.10)"] == false);
  CHECK(m["training/training"]["kube-apiserver"] == true);
  CHECK(m["default/unsecured"]["example.com (93.184.216.34)"] == true);
}

TEST_CASE("matrix: markdown and dot; a bad format exits 2") {
  int code = -1;
  auto out = mlnetpol::testing::run_binary("matrix -f " + fixtures + "cluster.yaml -o markdown", code);
  CHECK(code == 0);
  CHECK(out.find("| from \\ to |") == 0);
  out =
      mlnetpol::testing::run_binary("matrix -f " + fixtures + "cluster.yaml --port 5432 -o dot", code);
  CHECK(code == 0);
  CHECK(out.find("\"inference/api-0\" -> \"database/postgres-0\"") != std::string::npos);
  CHECK(out.find("\"training/trainer-0\" -> \"database/postgres-0\"") == std::string::npos);
  out = mlnetpol::testing::run_binary("matrix -f " + fixtures + "cluster.yaml -o png", code);
  CHECK(code == 2);
}
