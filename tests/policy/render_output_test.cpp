// The output forms: YAML, v1 List, summary JSON, Graphviz, and the renderer's config checks.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <string>

#include "policy/render/render.hpp"
#include "policy/render/yaml.hpp"
#include "tests/support/test_configs.hpp"

using namespace mlnetpol;

TEST_CASE("yaml: block style, ambiguous scalars quoted") {
  // "n" and "y" are booleans to a YAML 1.1 reader, even as keys.
  CHECK(policy::render::json_to_yaml(R"({"a":"b","n":1,"t":true,"z":null})") ==
        "a: b\n\"n\": 1\nt: true\nz: null\n");
  // Strings a YAML reader would take for a number, boolean, alias or map stay strings.
  CHECK(policy::render::json_to_yaml(
            R"({"port":"53","p":"*","k8s:io.x":"on","v":"yes","e":"","s":"a b","h":"0e12"})") ==
        "port: \"53\"\np: \"*\"\n\"k8s:io.x\": \"on\"\nv: \"yes\"\ne: \"\"\ns: \"a b\"\nh: "
        "\"0e12\"\n");
  CHECK(policy::render::json_to_yaml(R"({"m":{},"l":[],"x":{"y":[{"a":1,"b":[2,3]},"c"]}})") ==
        "m: {}\n"
        "l: []\n"
        "x:\n"
        "  \"y\":\n"
        "    - a: 1\n"
        "      b:\n"
        "        - 2\n"
        "        - 3\n"
        "    - c\n");
  CHECK(policy::render::json_to_yaml(R"([[1,2],{"a":"b\"c\n"}])") ==
        "- - 1\n  - 2\n- a: \"b\\\"c\\n\"\n");
  CHECK(policy::render::json_to_yaml("{bad json").empty());
}

TEST_CASE("objects_yaml: one document per object") {
  const auto objects = policy::render_policies(testing::multi_tenant_config(), "team-alpha");
  REQUIRE(objects.size() == 1);
  const std::string yaml = policy::objects_yaml(objects);
  CHECK(yaml.rfind("---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n", 0) == 0);
  CHECK(yaml.find("port: \"53\"") != std::string::npos);
  CHECK(yaml.find("- matchPattern: \"*\"") != std::string::npos);
  CHECK(policy::objects_yaml({}).empty());
}

TEST_CASE("list_json: a v1 List holding every object") {
  const auto objects = policy::render_policies(testing::enhanced_config());
  for (const bool pretty : {true, false}) {
    rapidjson::Document d;
    d.Parse(policy::list_json(objects, pretty).c_str());
    REQUIRE_FALSE(d.HasParseError());
    CHECK(std::string(d["apiVersion"].GetString()) == "v1");
    CHECK(std::string(d["kind"].GetString()) == "List");
    CHECK(d["items"].Size() == objects.size());
  }
  CHECK(policy::list_json({}, false) ==
        R"({"apiVersion":"v1","kind":"List","metadata":{},"items":[]})");
}

TEST_CASE("summary_json: the module's outputs") {
  const auto s = policy::summarize(testing::enhanced_config());
  CHECK(s.cilium_mode_enabled);
  CHECK(s.ml_policies_enabled);
  CHECK(s.secured_namespaces == std::vector<std::string>{"argocd", "monitoring", "flux-system",
                                                         "kubeflow", "training", "inference",
                                                         "serving"});
  CHECK(policy::summary_json(s) ==
        R"({"secured_namespaces":["argocd","monitoring","flux-system","kubeflow","training",)"
        R"("inference","serving"],"cilium_mode_enabled":true,"ml_policies_enabled":true,)"
        R"("policy_count":)" +
            std::to_string(s.policy_count) + "}");
  const auto off = policy::summarize(testing::disabled_config());
  CHECK(policy::summary_json(off) ==
        R"({"secured_namespaces":[],"cilium_mode_enabled":false,"ml_policies_enabled":false,)"
        R"("policy_count":0})");
}

TEST_CASE("render_dot: namespaces, pod groups, external destinations, default deny") {
  const std::string dot = policy::render_dot(testing::enhanced_config());
  CHECK(dot.rfind("digraph mlnetpol {", 0) == 0);
  CHECK(dot.find("namespace training (training)\\nDEFAULT DENY: ingress + egress") !=
        std::string::npos);
  CHECK(dot.find("namespace ingress-nginx\\nnot secured by mlnetpol") != std::string::npos);
  CHECK(dot.find("\"kube-apiserver\"") != std::string::npos);
  CHECK(dot.find("Service database/postgres") != std::string::npos);
  CHECK(dot.find("*.dkr.ecr.*.amazonaws.com") != std::string::npos);
  CHECK(dot.find("\"pods/training/workload-type=training\" -> "
                 "\"pods/training/workload-type=training\" [label=\"all-reduce / NCCL\\nany "
                 "port\"]") != std::string::npos);
  CHECK(dot.find("DNS to kube-dns, UDP/TCP 53 through the DNS proxy") != std::string::npos);
  CHECK(dot.find("\"pods/training/all pods\" -> \"pods/kube-system/k8s-app=kube-dns\" "
                 "[style=dashed") != std::string::npos);
  CHECK(dot.back() == '\n');
  // Only the chosen namespace's policies (their peers still appear as nodes).
  const std::string one = policy::render_dot(testing::enhanced_config(), "serving");
  CHECK(one.find("namespace serving") != std::string::npos);
  CHECK(one.find("namespace kubeflow") == std::string::npos);
}

TEST_CASE("validate_render_config: what would render an invalid object") {
  CHECK(policy::validate_render_config(policy::config{}).empty());
  for (const auto& [name, cfg] : testing::all_configs()) {
    CAPTURE(name);
    CHECK(policy::validate_render_config(cfg).empty());
  }
  policy::config bad;
  bad.tenant_namespaces = {"Team_A"};
  bad.training_egress_fqdns = {"https://s3.amazonaws.com"};
  bad.inference_allowed_services = {{"Postgres", "database"}};
  bad.api_server_cidrs = {"10.0.0.1"};
  bad.https_egress_except_cidrs = {"fd00::/8", "0.0.0.0/0"};
  bad.api_server_ports = {0};
  const auto errors = policy::validate_render_config(bad);
  REQUIRE(errors.size() == 7);
  CHECK(errors[0] == "tenant_namespaces: 'Team_A' is not a valid namespace name");
  CHECK(errors[1] ==
        "inference_allowed_services.serviceName: 'Postgres' is not a valid Service name");
  CHECK(errors[2] == "api_server_ports: port 0 is not a port");
  CHECK(errors[3].rfind("training_egress_fqdns: FQDN entry 'https://s3.amazonaws.com' has", 0) ==
        0);
  CHECK(errors[4] == "api_server_cidrs: '10.0.0.1' is not a CIDR");
  CHECK(errors[5] == "https_egress_except_cidrs: 'fd00::/8' is not an IPv4 CIDR");
  CHECK(errors[6] == "https_egress_except_cidrs: '0.0.0.0/0' would exclude every address");
}

TEST_CASE("render: empty port lists drop the rule instead of allowing every port") {
  auto cfg = testing::enhanced_config();
  cfg.training_metrics_ports = {};
  cfg.inference_serving_ports = {};
  for (const auto& o : policy::render_policies(cfg, "training")) {
    if (o.name == "ml-training-egress") {
      CHECK(o.json.find("\"k8s:io.kubernetes.pod.namespace\":\"monitoring\"") == std::string::npos);
    }
  }
  for (const auto& o : policy::render_policies(cfg, "serving")) {
    if (o.name == "ml-inference-policy") {
      CHECK(o.json.find("ingress-nginx") == std::string::npos);
      CHECK(o.json.find("\"monitoring\"") != std::string::npos);
    }
  }
}

TEST_CASE("render_dot: standard mode and namespaces where only ML pods are default deny") {
  const std::string standard = policy::render_dot(testing::standard_ml_config(true));
  CHECK(standard.find("allowed flows (NetworkPolicy)") != std::string::npos);
  CHECK(standard.find("addresses 0.0.0.0/0\\nexcept 10.0.0.0/8") != std::string::npos);
  CHECK(standard.find("\"any address\"") != std::string::npos);
  CHECK(standard.find("DNS to kube-dns, UDP/TCP 53\\n") != std::string::npos);
  const std::string unsecured = policy::render_dot(testing::cilium_unsecured_ml_config());
  CHECK(unsecured.find("namespace training (training)\\nonly the selected pods are default deny") !=
        std::string::npos);
  CHECK(policy::render_dot(testing::disabled_config()).find("subgraph") == std::string::npos);
}
