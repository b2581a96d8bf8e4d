#include "policy/config_parse.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>

#include "tests/support/files.hpp"

using namespace mlnetpol::policy;

namespace {

config_parse_result parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), json);
  return parse_config(d);
}

std::string all_errors(const config_parse_result& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.path + ": " + e.message + "\n";
  return out;
}

}  // namespace

TEST_CASE("an empty document and an empty map give the defaults") {
  CHECK(parse("null").value == config{});
  CHECK(parse("null").ok());
  CHECK(parse("{}").value == config{});
}

TEST_CASE("the defaults are the module's") {
  const config c;
  CHECK(c.enabled);
  CHECK_FALSE(c.cilium_mode);
  CHECK(c.platform_namespaces == std::vector<std::string>{"argocd", "monitoring", "flux-system"});
  CHECK(c.tenant_namespaces.empty());
  CHECK(c.enable_ml_policies);
  CHECK(c.ml_training_namespaces == std::vector<std::string>{"kubeflow", "training", "mlops"});
  CHECK(c.ml_inference_namespaces == std::vector<std::string>{"inference", "serving", "mlops"});
  CHECK(c.inference_allowed_services ==
        std::vector<k8s_service_ref>{{"postgres", "database"}, {"redis", "database"}});
  CHECK(c.enforcement == enforcement_mode::enforce);
  CHECK(c.label_key == "workload-type");
  CHECK(c.deny_host_network);
  CHECK(c.deny_host_network_roles ==
        std::vector<std::string>{"platform", "tenant", "training", "inference"});
}

TEST_CASE("every key is read into its own field") {
  struct row {
    const char* json;
    std::function<bool(const config&)> check;
  };
  const std::vector<row> rows{
      {R"({"enabled": false})", [](const config& c) { return !c.enabled; }},
      {R"({"cilium_mode": true})", [](const config& c) { return c.cilium_mode; }},
      {R"({"platform_namespaces": ["p1"]})",
       [](const config& c) { return c.platform_namespaces == std::vector<std::string>{"p1"}; }},
      {R"({"tenant_namespaces": ["team-alpha", "team-beta"]})",
       [](const config& c) { return c.tenant_namespaces.size() == 2; }},
      {R"({"enable_ml_policies": false})", [](const config& c) { return !c.enable_ml_policies; }},
      {R"({"ml_training_namespaces": []})",
       [](const config& c) { return c.ml_training_namespaces.empty(); }},
      {R"({"ml_inference_namespaces": ["inf"]})",
       [](const config& c) {
         return c.ml_inference_namespaces == std::vector<std::string>{"inf"};
       }},
      {R"({"inference_allowed_services": [{"k8sService": {"serviceName": "feast", "namespace": "feature-store"}}]})",
       [](const config& c) {
         return c.inference_allowed_services ==
                std::vector<k8s_service_ref>{{"feast", "feature-store"}};
       }},
      {R"({"enforcement_mode": "audit"})",
       [](const config& c) { return c.enforcement == enforcement_mode::audit; }},
      {R"({"label_key": "example.com/role"})",
       [](const config& c) { return c.label_key == "example.com/role"; }},
      {R"({"exempt_namespaces": ["ops"]})",
       [](const config& c) { return c.exempt_namespaces == std::vector<std::string>{"ops"}; }},
      {R"({"exempt_users": ["ci"]})",
       [](const config& c) { return c.exempt_users == std::vector<std::string>{"ci"}; }},
      {R"({"exempt_groups": ["g"]})",
       [](const config& c) { return c.exempt_groups == std::vector<std::string>{"g"}; }},
      {R"({"admin_groups": []})", [](const config& c) { return c.admin_groups.empty(); }},
      {R"({"service_account": "system:serviceaccount:x:y"})",
       [](const config& c) { return c.service_account == "system:serviceaccount:x:y"; }},
      {R"({"deny_host_network": false})", [](const config& c) { return !c.deny_host_network; }},
      {R"({"deny_host_network_roles": ["training", "inference"]})",
       [](const config& c) {
         return c.deny_host_network_roles == std::vector<std::string>{"training", "inference"};
       }},
      {R"({"tenant_policy_guardrails": "warn"})",
       [](const config& c) { return c.tenant_policy_guardrails == enforcement_mode::warn; }},
      {R"({"monitoring_namespace": "prom"})",
       [](const config& c) { return c.monitoring_namespace == "prom"; }},
      {R"({"ingress_controller_namespaces": ["traefik"]})",
       [](const config& c) {
         return c.ingress_controller_namespaces == std::vector<std::string>{"traefik"};
       }},
      {R"({"ingress_controller_pods": [{"namespace": "kube-system", "matchLabels": {"app": "alb"}}]})",
       [](const config& c) {
         return c.ingress_controller_pods ==
                std::vector<pod_peer>{{"kube-system", {{"app", "alb"}}}};
       }},
      {R"({"secure_ml_namespaces": false})",
       [](const config& c) { return !c.secure_ml_namespaces; }},
      {R"({"standard_ml_policies": false})",
       [](const config& c) { return !c.standard_ml_policies; }},
      {R"({"training_metrics_ports": [1, 65535]})",
       [](const config& c) {
         return c.training_metrics_ports == std::vector<std::uint16_t>{1, 65535};
       }},
      {R"({"inference_serving_ports": [80]})",
       [](const config& c) { return c.inference_serving_ports == std::vector<std::uint16_t>{80}; }},
      {R"({"inference_metrics_ports": [9100]})",
       [](const config& c) {
         return c.inference_metrics_ports == std::vector<std::uint16_t>{9100};
       }},
      {R"({"training_egress_fqdns": ["*.example.com"]})",
       [](const config& c) {
         return c.training_egress_fqdns == std::vector<std::string>{"*.example.com"};
       }},
      {R"({"inference_egress_fqdns": ["models.example.com"]})",
       [](const config& c) {
         return c.inference_egress_fqdns == std::vector<std::string>{"models.example.com"};
       }},
      {R"({"platform_pod_selector_key": ""})",
       [](const config& c) { return c.platform_pod_selector_key.empty(); }},
      {R"({"api_server_ports": [8443]})",
       [](const config& c) { return c.api_server_ports == std::vector<std::uint16_t>{8443}; }},
      {R"({"api_server_cidrs": ["10.0.0.1/32", "fd00::/8"]})",
       [](const config& c) { return c.api_server_cidrs.size() == 2; }},
      {R"({"monitoring_scrapes_ml": false})",
       [](const config& c) { return !c.monitoring_scrapes_ml; }},
      {R"({"cilium_default_deny_field": false})",
       [](const config& c) { return !c.cilium_default_deny_field; }},
      {R"({"cilium_default_deny_field": false})",
       [](const config& c) { return !c.cilium_default_deny_field; }},
      {R"({"standard_platform_policies": false})",
       [](const config& c) { return !c.standard_platform_policies; }},
      {R"({"https_egress_except_cidrs": []})",
       [](const config& c) { return c.https_egress_except_cidrs.empty(); }},
  };
  std::set<std::string> keys_seen;
  for (const auto& r : rows) {
    CAPTURE(r.json);
    const auto result = parse(r.json);
    CHECK_MESSAGE(result.ok(), all_errors(result));
    CHECK(r.check(result.value));
    CHECK(result.value != config{});
    rapidjson::Document d;
    d.Parse(r.json);
    keys_seen.insert(d.MemberBegin()->name.GetString());
  }
  // Every key of the table is covered by a row above, and vice versa: a key added to the table
  // needs a row here (and a line in docs/configuration.md).
  std::set<std::string> table_keys;
  for (const auto& k : config_keys()) table_keys.insert(k.key);
  CHECK(keys_seen == table_keys);
}

TEST_CASE("errors name the key path and what is wrong, and all are collected") {
  struct row {
    const char* json;
    std::vector<std::pair<std::string, std::string>> errors;  // path, part of the message
  };
  const std::vector<row> rows{
      {R"({"enforcment_mode": "warn"})",
       {{"enforcment_mode", "unknown key; did you mean \"enforcement_mode\"?"}}},
      {R"({"enforcement": "warn"})", {{"enforcement", "did you mean \"enforcement_mode\"?"}}},
      {R"({"platform_namespace": []})", {{"platform_namespace", "\"platform_namespaces\""}}},
      {R"({"qqqqqqqqqqqqqqqq": 1})", {{"qqqqqqqqqqqqqqqq", "valid keys here: enabled"}}},
      // The list once per map: a thousand unknown keys do not make a thousand lists.
      {R"({"enforcment_mode": 1, "qqqqqqqqqqqqqqqq": 1, "zzzzzzzzzzzzzzzz": 2})",
       {{"enforcment_mode", "did you mean"},
        {"qqqqqqqqqqqqqqqq", "valid keys here: enabled"},
        {"zzzzzzzzzzzzzzzz", "unknown key; the valid keys here are listed at \"qqqqqqqqqqqqqqqq\""}}},
      {R"({"inference_allowed_services": [{"k8sService": {"serviceName": "pg", "namespace": "db", "qqqqqqqqqqqqqqqq": 1, "zzzzzzzzzzzzzzzz": 2}}]})",
       {{"inference_allowed_services[0].k8sService.qqqqqqqqqqqqqqqq", "valid keys here: "},
        {"inference_allowed_services[0].k8sService.zzzzzzzzzzzzzzzz",
         "listed at \"inference_allowed_services[0].k8sService.qqqqqqqqqqqqqqqq\""}}},
      {R"({"enabled": "yes"})",
       {{"enabled", "wrong type: expected a bool (true or false), got a string (\"yes\")"}}},
      {R"({"tenant_namespaces": "team-a"})", {{"tenant_namespaces", "expected a list"}}},
      {R"({"tenant_namespaces": null})", {{"tenant_namespaces", "got null"}}},
      {R"({"platform_namespaces": ["ok", "Bad_NS", 3]})",
       {{"platform_namespaces[1]", "\"Bad_NS\" is not a valid namespace name (DNS-1123 label"},
        {"platform_namespaces[2]", "expected a string, got a number"}}},
      {R"({"ml_training_namespaces": ["a-very-long-namespace-name-that-goes-on-and-on-and-on-beyond-63-chars"]})",
       {{"ml_training_namespaces[0]", "not a valid namespace name"}}},
      {R"({"label_key": ""})", {{"label_key", "empty label key"}}},
      {R"({"label_key": "a/b/c"})", {{"label_key", "not a valid label key"}}},
      {R"({"enforcement_mode": "block"})",
       {{"enforcement_mode",
         "invalid enforcement mode \"block\": expected one of enforce, warn, audit"}}},
      {R"({"training_metrics_ports": [0, 70000, "80", 8080]})",
       {{"training_metrics_ports[0]", "port 0 out of range 1-65535"},
        {"training_metrics_ports[1]", "port 70000 out of range"},
        {"training_metrics_ports[2]", "expected a port number"}}},
      {R"({"inference_allowed_services": [{"k8sService": {"serviceName": "Pg", "namespace": "db", "port": 1}}, {"service": {}}, "x"]})",
       {{"inference_allowed_services[0].k8sService.port", "unknown key"},
        {"inference_allowed_services[0].k8sService.serviceName", "not a valid service name"},
        {"inference_allowed_services[1].service", "did you mean \"k8sService\"?"},
        {"inference_allowed_services[1].k8sService", "missing key"},
        {"inference_allowed_services[2]", "wrong type"}}},
      {R"({"inference_allowed_services": [{"k8sService": {"serviceName": "pg"}}]})",
       {{"inference_allowed_services[0].k8sService.namespace", "missing key"}}},
      {R"({"ingress_controller_pods": [{"namespace": "kube-system", "matchLabels": {"app": 1, "bad key!": "x"}}, {"matchLabels": {}}]})",
       {{"ingress_controller_pods[0].matchLabels[\"app\"]", "expected a string label value"},
        {"ingress_controller_pods[0].matchLabels[\"bad key!\"]", "not a valid label key"},
        {"ingress_controller_pods[1].namespace", "missing key"}}},
      {R"({"training_egress_fqdns": [""]})", {{"training_egress_fqdns[0]", ""}}},
      {R"({"api_server_cidrs": ["10.0.0.0", "10.0.0.0/33", "300.1.1.1/8"]})",
       {{"api_server_cidrs[0]", "is not a CIDR"},
        {"api_server_cidrs[1]", "is not a CIDR"},
        {"api_server_cidrs[2]", "is not a CIDR"}}},
      {R"({"exempt_users": [""]})", {{"exempt_users[0]", "empty string"}}},
      {R"({"deny_host_network_roles": ["tenant", "ml"]})",
       {{"deny_host_network_roles[1]",
         "\"ml\" is not a namespace role (platform, tenant, training or inference)"}}},
      {R"([1, 2])", {{"", "the configuration must be a map of keys, got a list"}}},
      {R"({"enabled": 1, "label_key": "", "bogus": true})",
       {{"enabled", "wrong type"}, {"label_key", "empty label key"}, {"bogus", "unknown key"}}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.json);
    const auto result = parse(r.json);
    CAPTURE(all_errors(result));
    REQUIRE(result.errors.size() == r.errors.size());
    for (std::size_t i = 0; i < r.errors.size(); ++i) {
      CHECK(result.errors[i].path == r.errors[i].first);
      CHECK(result.errors[i].message.find(r.errors[i].second) != std::string::npos);
    }
  }
}

TEST_CASE("a bad value keeps that key's default") {
  const auto result = parse(R"({"platform_namespaces": ["ok", "BAD"], "cilium_mode": true})");
  CHECK_FALSE(result.ok());
  CHECK(result.value.platform_namespaces == config{}.platform_namespaces);
  CHECK(result.value.cilium_mode);
}

TEST_CASE("enforcement modes round-trip") {
  for (auto m : {enforcement_mode::enforce, enforcement_mode::warn, enforcement_mode::audit}) {
    CHECK(parse_enforcement_mode(to_string(m)) == m);
  }
  CHECK_FALSE(parse_enforcement_mode("Enforce"));
  CHECK_FALSE(parse_enforcement_mode(""));
}

TEST_CASE("format_config_yaml writes every key with its doc line") {
  const std::string yaml = format_config_yaml(config{});
  for (const auto& k : config_keys()) {
    CAPTURE(k.key);
    CHECK(yaml.find("\n" + k.key + ":") != std::string::npos);
    CHECK(yaml.find("# " + k.doc + "\n") != std::string::npos);
  }
  CHECK(yaml.find("enforcement_mode: enforce\n") != std::string::npos);
  CHECK(yaml.find("  - k8sService: {serviceName: \"postgres\", namespace: \"database\"}") !=
        std::string::npos);
}

TEST_CASE("docs/configuration.md documents every configuration key") {
  const std::string text =
      mlnetpol::testing::read_required(std::string(MLNETPOL_SOURCE_DIR) + "/docs/configuration.md");
  for (const auto& k : config_keys()) {
    CAPTURE(k.key);
    CHECK(text.find("| `" + k.key + "` |") != std::string::npos);
  }
}

TEST_CASE("a configuration that would cut the cluster's own traffic is refused") {
  // Each protected namespace in each secured list: one error at the entry's key path.
  for (const char* list : {"platform_namespaces", "tenant_namespaces", "ml_training_namespaces",
                           "ml_inference_namespaces"}) {
    for (const char* ns : {"kube-system", "kube-public", "kube-node-lease", "mlnetpol-system"}) {
      CAPTURE(list);
      CAPTURE(ns);
      const auto r = parse(std::string(R"({")") + list + R"(": ["team-a", ")" + ns + R"("]})");
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].path == std::string(list) + "[1]");
      CHECK(r.errors[0].message.find(std::string("\"") + ns + "\" must not be secured") == 0);
      CHECK(r.errors[0].message.find(std::string("remove it from ") + list) != std::string::npos);
    }
  }
  // The install namespace follows service_account; any exempt namespace counts too.
  const auto moved = parse(R"({"service_account": "system:serviceaccount:webhooks:mlnetpol",
                               "tenant_namespaces": ["webhooks", "mlnetpol-system"]})");
  REQUIRE(moved.errors.size() == 2);  // webhooks (install) and mlnetpol-system (still exempt)
  CHECK(moved.errors[0].path == "tenant_namespaces[0]");
  CHECK(moved.errors[0].message.find("service_account") != std::string::npos);
  CHECK(moved.errors[1].message.find("exempt_namespaces") != std::string::npos);
  const auto exempt = parse(R"({"exempt_namespaces": ["istio-system"],
                                "platform_namespaces": ["argocd", "istio-system"]})");
  REQUIRE(exempt.errors.size() == 1);
  CHECK(exempt.errors[0].path == "platform_namespaces[1]");
  CHECK(exempt.errors[0].message.find("exempt_namespaces") != std::string::npos);
  // Nothing protected: accepted; the defaults are accepted as well.
  CHECK(parse(R"({"platform_namespaces": ["argocd"], "tenant_namespaces": ["team-a"]})").ok());
  CHECK(parse("{}").ok());
}
