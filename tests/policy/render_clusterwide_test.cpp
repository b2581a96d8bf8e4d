// policy/render/clusterwide.cpp: the one CiliumClusterwideNetworkPolicy — when it is rendered, what
// it selects (the namespace labels as Cilium gives them to endpoints), and that its DNS egress is
// the per-namespace default deny's. Its schema is checked by tests/render/validate_render.py.
#include <doctest/doctest.h>

#include <string>

#include <rapidjson/document.h>
#include <rapidjson/writer.h>

#include "policy/config.hpp"
#include "policy/render/clusterwide.hpp"
#include "policy/render/render.hpp"

namespace policy = mlnetpol::policy;

namespace {

policy::config cilium() {
  policy::config cfg;
  cfg.cilium_mode = true;
  cfg.tenant_namespaces = {"team-a"};
  cfg.ml_training_namespaces = {"training"};
  return cfg;
}

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

}  // namespace

TEST_CASE("clusterwide policy: one, cluster-scoped, managed, in Cilium mode") {
  const auto objects = policy::render_clusterwide(cilium());
  REQUIRE(objects.size() == 1);
  const auto& o = objects[0];
  CHECK(o.kind == "CiliumClusterwideNetworkPolicy");
  CHECK(o.api_version == "cilium.io/v2");
  CHECK(o.name == "mlnetpol-default-deny");
  CHECK(o.namespace_name.empty());
  const auto d = parse(o.json);
  CHECK_FALSE(d["metadata"].HasMember("namespace"));
  CHECK(std::string(d["metadata"]["labels"]["app.kubernetes.io/managed-by"].GetString()) ==
        "mlnetpol");
  CHECK(std::string(d["metadata"]["annotations"]["mlnetpol.io/spec-hash"].GetString()) ==
        o.spec_hash);
  const auto& spec = d["spec"];
  CHECK(compact(spec["endpointSelector"]) ==
        R"({"matchExpressions":[{"key":"k8s:io.cilium.k8s.namespace.labels.mlnetpol.io/enforcement","operator":"NotIn","values":["audit"]}],)"
        R"("matchLabels":{"k8s:io.cilium.k8s.namespace.labels.mlnetpol.io/secured":"true"}})");
  // Ingress: one empty rule (default deny, nothing allowed); both directions spelled out.
  CHECK(compact(spec["ingress"]) == "[{}]");
  CHECK(compact(spec["enableDefaultDeny"]) == R"({"egress":true,"ingress":true})");
}

TEST_CASE("clusterwide policy: egress is exactly the namespaces' DNS rule") {
  const auto cfg = cilium();
  const auto d = parse(policy::render_clusterwide(cfg).at(0).json);
  // The per-namespace default deny of a secured namespace allows the same DNS, nothing else.
  const auto own = policy::render_policies(cfg, "team-a");
  REQUIRE(own.size() == 1);
  const auto n = parse(own[0].json);
  CHECK(std::string(n["metadata"]["name"].GetString()) == "default-deny-with-dns");
  CHECK(compact(d["spec"]["egress"]) == compact(n["spec"]["egress"]));
  CHECK(d["spec"]["egress"].Size() == 1);
  CHECK(compact(d["spec"]["egress"][0]["toPorts"]) ==
        R"([{"ports":[{"port":"53","protocol":"ANY"}],"rules":{"dns":[{"matchPattern":"*"}]}}])");
}

TEST_CASE("clusterwide policy: none in standard mode, audit, or disabled") {
  auto cfg = cilium();
  SUBCASE("standard mode") { cfg.cilium_mode = false; }
  SUBCASE("audit") { cfg.enforcement = policy::enforcement_mode::audit; }
  SUBCASE("disabled") { cfg.enabled = false; }
  CHECK(policy::render_clusterwide(cfg).empty());
  CHECK(policy::render_all(cfg).size() == policy::render_policies(cfg).size());
}

TEST_CASE("clusterwide policy: warn applies policies, so it is rendered") {
  auto cfg = cilium();
  cfg.enforcement = policy::enforcement_mode::warn;
  CHECK(policy::render_clusterwide(cfg).size() == 1);
}

TEST_CASE("clusterwide policy: without secure_ml_namespaces, ML namespaces are not selected") {
  auto cfg = cilium();
  cfg.secure_ml_namespaces = false;
  const auto d = parse(policy::render_clusterwide(cfg).at(0).json);
  const std::string selector = compact(d["spec"]["endpointSelector"]);
  for (const char* label : {"mlnetpol.io/training", "mlnetpol.io/inference"}) {
    CAPTURE(label);
    CHECK(selector.find(std::string(R"({"key":"k8s:io.cilium.k8s.namespace.labels.)") + label +
                        R"(","operator":"DoesNotExist"})") != std::string::npos);
  }
  // A secured-only label set (no ML role): still one endpointSelector, no `specs`.
  CHECK_FALSE(d.HasMember("specs"));
}

TEST_CASE("clusterwide policy: render prints it after the namespaces' policies, not per namespace") {
  const auto cfg = cilium();
  const auto all = policy::render_all(cfg);
  REQUIRE(all.size() == policy::render_policies(cfg).size() + 1);
  CHECK(all.back().kind == "CiliumClusterwideNetworkPolicy");
  CHECK(policy::render_all(cfg, "team-a").size() == policy::render_policies(cfg, "team-a").size());
}
