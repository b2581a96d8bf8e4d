// same_spec: a live spec against the rendered one, as values and with the API server's defaults.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/render/compare.hpp"
#include "policy/render/render.hpp"
#include "tests/support/rendered_spec.hpp"

using namespace mlnetpol;
using mlnetpol::testing::rendered_spec;

namespace {

const policy::rendered_object& named(const std::vector<policy::rendered_object>& all,
                                     const std::string& name) {
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
  REQUIRE(it != all.end());
  return *it;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("same_spec: every rendered object matches its own spec") {
  policy::config cfg;
  for (const bool cilium : {false, true}) {
    cfg.cilium_mode = cilium;
    for (const auto& d : policy::render_policies(cfg)) {
      CAPTURE(d.name);
      CHECK(policy::same_spec(d, rendered_spec(d)));
    }
  }
}

TEST_CASE("same_spec: the API server's way of returning a NetworkPolicy is no difference") {
  policy::config cfg;
  const auto all = policy::render_policies(cfg, "argocd");
  const auto& ingress = named(all, "default-deny-ingress");
  const auto& egress = named(all, "default-deny-egress");
  // Key order, empty lists and maps, a defaulted policyTypes.
  CHECK(policy::same_spec(egress, R"({"policyTypes":["Egress"],"egress":[],"podSelector":{}})"));
  CHECK(policy::same_spec(ingress, R"({"podSelector":{"matchLabels":{}},"ingress":null})"));
  // A port's protocol defaults to TCP.
  const auto& dns = named(all, "allow-dns");
  const std::string spec = rendered_spec(dns);
  REQUIRE(spec.find(R"("protocol":"TCP",)") != std::string::npos);
  CHECK(policy::same_spec(dns, replaced(spec, R"("protocol":"TCP",)", "")));
  CHECK_FALSE(
      policy::same_spec(dns, replaced(spec, R"("protocol":"TCP")", R"("protocol":"SCTP")")));
}

TEST_CASE("same_spec: any added, removed or changed field is a difference") {
  policy::config cfg;
  const auto all = policy::render_policies(cfg, "argocd");
  const auto& ingress = named(all, "default-deny-ingress");
  const auto& egress = named(all, "default-deny-egress");
  // The attacks: allow-all rules in a deny policy.
  CHECK_FALSE(
      policy::same_spec(egress, R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})"));
  CHECK_FALSE(
      policy::same_spec(ingress, R"({"podSelector":{},"policyTypes":["Ingress"],"ingress":[{}]})"));
  // A defaulted policyTypes of a spec without egress rules is Ingress only: not the egress deny.
  CHECK_FALSE(policy::same_spec(egress, R"({"podSelector":{}})"));
  CHECK(policy::same_spec(ingress, R"({"podSelector":{}})"));
  // A narrowed selector, another policy type, a field the renderer never writes.
  CHECK_FALSE(policy::same_spec(
      egress, R"({"podSelector":{"matchLabels":{"a":"b"}},"policyTypes":["Egress"]})"));
  CHECK_FALSE(
      policy::same_spec(egress, R"({"podSelector":{},"policyTypes":["Ingress","Egress"]})"));
  CHECK_FALSE(policy::same_spec(egress, R"({"podSelector":{},"policyTypes":["Egress"],"x":1})"));
  // Unreadable or absurdly deep: not the same (repaired, never trusted).
  CHECK_FALSE(policy::same_spec(egress, ""));
  CHECK_FALSE(policy::same_spec(egress, "null"));
  CHECK_FALSE(policy::same_spec(egress, "{"));
  std::string deep = R"({"podSelector":{},"policyTypes":["Egress"],"x":)";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  CHECK_FALSE(policy::same_spec(egress, deep + "}"));
}

TEST_CASE("same_spec: CiliumNetworkPolicy, no NetworkPolicy defaults, every field counts") {
  policy::config cfg;
  cfg.cilium_mode = true;
  const auto all = policy::render_policies(cfg, "argocd");
  REQUIRE_FALSE(all.empty());
  const auto& d = named(all, "default-deny-with-dns");
  REQUIRE(d.kind == "CiliumNetworkPolicy");
  const std::string spec = rendered_spec(d);
  CHECK(policy::same_spec(d, spec));
  // Switching default deny off, or one more rule, is a difference.
  CHECK_FALSE(policy::same_spec(d, replaced(spec, R"("egress":true)", R"("egress":false)")));
  const auto& https = named(all, "platform-https-only");
  CHECK_FALSE(policy::same_spec(
      https, replaced(rendered_spec(https), "{",
                      R"({"enableDefaultDeny":{"egress":false,"ingress":false},)")));
  CHECK_FALSE(policy::same_spec(
      d, replaced(spec, R"("egress":[)", R"("egress":[{"toEntities":["world"]},)")));
  // No policyTypes is filled into a Cilium spec.
  CHECK_FALSE(policy::same_spec(d, replaced(spec, "{", R"({"policyTypes":["Ingress"],)")));
}
