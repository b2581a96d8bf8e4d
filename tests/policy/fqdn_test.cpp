#include "policy/fqdn.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policy/config.hpp"

using namespace mlnetpol::policy;

namespace {

bool any_matches(const std::vector<std::string>& entries, const std::string& host) {
  for (const auto& e : entries) {
    if (fqdn_entry_matches(e, host)) return true;
  }
  return false;
}

const std::vector<std::string> regions{"us-east-1", "eu-west-1", "ap-southeast-2"};

// Real endpoint names of what training pods must reach, per region.
std::vector<std::string> training_hosts(const std::string& r) {
  return {
      "s3.amazonaws.com",
      "my-datasets.s3.amazonaws.com",
      "s3." + r + ".amazonaws.com",
      "my-datasets.s3." + r + ".amazonaws.com",
      "s3.dualstack." + r + ".amazonaws.com",
      "my-datasets.s3.dualstack." + r + ".amazonaws.com",
      "s3-" + r + ".amazonaws.com",
      "s3-external-1.amazonaws.com",
      "models-123456789012.s3-accesspoint." + r + ".amazonaws.com",
      "api.ecr." + r + ".amazonaws.com",
      "ecr." + r + ".amazonaws.com",
      "123456789012.dkr.ecr." + r + ".amazonaws.com",
      "prod-" + r + "-starport-layer-bucket.s3." + r + ".amazonaws.com",
      "prod-" + r + "-starport-layer-bucket.s3.amazonaws.com",
      "sts.amazonaws.com",
      "sts." + r + ".amazonaws.com",
      "monitoring." + r + ".amazonaws.com",
      "logs." + r + ".amazonaws.com",
  };
}

// AWS names the defaults must not reach.
std::vector<std::string> forbidden_hosts(const std::string& r) {
  return {"ec2." + r + ".amazonaws.com",
          "amazonaws.com",
          "iam.amazonaws.com",
          "sagemaker." + r + ".amazonaws.com",
          "runtime.sagemaker." + r + ".amazonaws.com",
          "secretsmanager." + r + ".amazonaws.com",
          "dynamodb." + r + ".amazonaws.com",
          "lambda." + r + ".amazonaws.com",
          "kms." + r + ".amazonaws.com",
          "ssm." + r + ".amazonaws.com",
          "ec2messages." + r + ".amazonaws.com",
          "my-instance.abcdefghij." + r + ".rds.amazonaws.com",
          "evil.example.com",
          "s3.amazonaws.com.evil.example.com"};
}

}  // namespace

TEST_CASE("fqdn: `*` stays inside one DNS label, a lone `*` matches every name") {
  CHECK(fqdn_pattern_matches("*", "anything.example.com"));
  CHECK(fqdn_pattern_matches("*", "x"));
  CHECK(fqdn_pattern_matches("*.example.com", "a.example.com"));
  CHECK_FALSE(fqdn_pattern_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(fqdn_pattern_matches("*.example.com", "example.com"));
  CHECK(fqdn_pattern_matches("*.example.com", ".example.com") == false);
  CHECK(fqdn_pattern_matches("s3.*.amazonaws.com", "s3.us-east-1.amazonaws.com"));
  CHECK_FALSE(fqdn_pattern_matches("s3.*.amazonaws.com", "s3.dualstack.us-east-1.amazonaws.com"));
  CHECK(fqdn_pattern_matches("s3-*.amazonaws.com", "s3-us-west-2.amazonaws.com"));
  CHECK(fqdn_pattern_matches("s3-*.amazonaws.com", "s3-.amazonaws.com"));  // `*` may be empty
  CHECK_FALSE(fqdn_pattern_matches("s3-*.amazonaws.com", "s3.amazonaws.com"));
  CHECK(fqdn_pattern_matches("a*b*c.x", "aXXbYYc.x"));
  CHECK(fqdn_pattern_matches("a*b*c.x", "abc.x"));
  CHECK_FALSE(fqdn_pattern_matches("a*b*c.x", "acb.x"));
  CHECK(fqdn_pattern_matches("*.S3.*.amazonaws.com", "bucket.s3.eu-west-1.AMAZONAWS.com."));
  CHECK_FALSE(fqdn_pattern_matches("*.example.com", "a b.example.com"));
}

TEST_CASE("fqdn: the module's list misses ECR registries, path-style S3, STS and CloudWatch") {
  const std::vector<std::string> module_list{"*.s3.*.amazonaws.com", "*.ecr.*.amazonaws.com",
                                             "*.sts.*.amazonaws.com", "*.logs.*.amazonaws.com",
                                             "*.sagemaker.*.amazonaws.com"};
  CHECK_FALSE(any_matches(module_list, "123456789012.dkr.ecr.us-east-1.amazonaws.com"));
  CHECK_FALSE(any_matches(module_list, "s3.us-east-1.amazonaws.com"));
  CHECK_FALSE(any_matches(module_list, "bucket.s3.amazonaws.com"));
  CHECK_FALSE(any_matches(module_list, "sts.amazonaws.com"));
  CHECK_FALSE(any_matches(module_list, "sts.us-east-1.amazonaws.com"));
  CHECK_FALSE(any_matches(module_list, "monitoring.us-east-1.amazonaws.com"));
  CHECK_FALSE(any_matches(module_list, "logs.us-east-1.amazonaws.com"));
}

TEST_CASE("fqdn: the default training list reaches S3, ECR, STS, CloudWatch and nothing else") {
  const config cfg;
  for (const auto& r : regions) {
    for (const auto& host : training_hosts(r)) {
      INFO(host);
      CHECK(any_matches(cfg.training_egress_fqdns, host));
    }
    for (const auto& host : forbidden_hosts(r)) {
      INFO(host);
      CHECK_FALSE(any_matches(cfg.training_egress_fqdns, host));
    }
  }
  for (const auto& e : cfg.training_egress_fqdns) {
    INFO(e);
    CHECK(e != "*.amazonaws.com");
    CHECK(e != "*");
    CHECK(fqdn_entry_error(e).empty());
  }
}

TEST_CASE("fqdn: the default inference list reaches S3 only") {
  const config cfg;
  for (const auto& r : regions) {
    for (const auto& host : std::vector<std::string>{
             "s3.amazonaws.com", "models.s3.amazonaws.com", "s3." + r + ".amazonaws.com",
             "models.s3." + r + ".amazonaws.com", "models.s3.dualstack." + r + ".amazonaws.com"}) {
      INFO(host);
      CHECK(any_matches(cfg.inference_egress_fqdns, host));
    }
    for (const auto& host : std::vector<std::string>{
             "api.ecr." + r + ".amazonaws.com", "123456789012.dkr.ecr." + r + ".amazonaws.com",
             "sts." + r + ".amazonaws.com", "sts.amazonaws.com", "logs." + r + ".amazonaws.com",
             "monitoring." + r + ".amazonaws.com", "ec2." + r + ".amazonaws.com"}) {
      INFO(host);
      CHECK_FALSE(any_matches(cfg.inference_egress_fqdns, host));
    }
  }
}

TEST_CASE("fqdn: matchName is exact, entries are checked against the CRD's syntax") {
  CHECK(is_fqdn_pattern("*.s3.amazonaws.com"));
  CHECK_FALSE(is_fqdn_pattern("sts.amazonaws.com"));
  CHECK(fqdn_entry_matches("sts.amazonaws.com", "STS.amazonaws.com."));
  CHECK_FALSE(fqdn_entry_matches("sts.amazonaws.com", "x.sts.amazonaws.com"));
  CHECK(fqdn_entry_error("logs.*.amazonaws.com").empty());
  CHECK(fqdn_entry_error("example.com.").empty());
  CHECK_FALSE(fqdn_entry_error("").empty());
  CHECK_FALSE(fqdn_entry_error("a..b").empty());
  CHECK_FALSE(fqdn_entry_error(".a").empty());
  CHECK_FALSE(fqdn_entry_error("https://s3.amazonaws.com").empty());
  CHECK_FALSE(fqdn_entry_error(std::string(256, 'a')).empty());
}
