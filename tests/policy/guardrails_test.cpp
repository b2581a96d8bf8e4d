#include "policy/guardrails.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "policy/engine.hpp"

using namespace mlnetpol::policy;

namespace {

// JSON written with single quotes (readable in a table), turned into JSON.
std::string j(std::string text) {
  std::replace(text.begin(), text.end(), '\'', '"');
  return text;
}

// A policy object named "p" with spec (JSON, single quotes) and, when reason is set, the
// exception annotation.
std::string policy_json(const std::string& spec, const char* reason = nullptr,
                        const char* spec_key = "spec") {
  std::string metadata = "{'name':'p'";
  if (reason != nullptr) {
    metadata += ",'annotations':{'mlnetpol.io/exception-reason':" + std::string(reason) + "}";
  }
  metadata += "}";
  return j("{'metadata':" + metadata + ",'" + spec_key + "':" + spec + "}");
}

std::set<std::string> rules_of(const std::vector<guardrail_finding>& findings) {
  std::set<std::string> out;
  for (const auto& f : findings) out.emplace(f.rule);
  return out;
}

std::vector<guardrail_finding> check(tenant_policy_kind kind, const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), json);
  return check_tenant_policy(kind, d);
}

const std::string egress_all(rule_tenant_egress_all);
const std::string ingress_all(rule_tenant_ingress_all);
const std::string undocumented(rule_tenant_exception_undocumented);
constexpr auto np = tenant_policy_kind::network_policy;
constexpr auto cnp = tenant_policy_kind::cilium_network_policy;

struct row {
  const char* what;
  tenant_policy_kind kind;
  std::string spec;              // single-quoted JSON
  const char* reason;            // the annotation's JSON value, nullptr: none
  std::set<std::string> rules;   // expected findings
  const char* spec_key = "spec";
};

void run(const std::vector<row>& rows) {
  for (const auto& r : rows) {
    const std::string what = r.what;  // CAPTURE prints a const char* as a pointer
    CAPTURE(what);
    const auto findings = check(r.kind, policy_json(r.spec, r.reason, r.spec_key));
    CHECK(rules_of(findings) == r.rules);
    for (const auto& f : findings) {
      CHECK(f.message.find("\"p\"") != std::string::npos);
      CHECK(f.message.find("Fix:") != std::string::npos);
      CHECK(!f.summary.empty());
      CHECK(f.summary.size() <= 120);
    }
  }
}

}  // namespace

TEST_CASE("guardrails: every wide NetworkPolicy form is refused") {
  const char* why = "'db'";
  run({
      {"empty egress rule", np, "{'egress':[{}]}", why, {egress_all}},
      {"egress rule with an empty to", np, "{'egress':[{'to':[]}]}", why, {egress_all}},
      {"egress rule with ports only", np, "{'egress':[{'ports':[{'port':443}]}]}", why,
       {egress_all}},
      {"egress to 0.0.0.0/0", np, "{'egress':[{'to':[{'ipBlock':{'cidr':'0.0.0.0/0'}}]}]}", why,
       {egress_all}},
      {"egress to 0.0.0.0/0 with except", np,
       "{'egress':[{'to':[{'ipBlock':{'cidr':'0.0.0.0/0','except':['10.0.0.0/8']}}]}]}", why,
       {egress_all}},
      {"egress to ::/0", np, "{'egress':[{'to':[{'ipBlock':{'cidr':'::/0'}}]}]}", why,
       {egress_all}},
      {"egress to half the internet", np,
       "{'egress':[{'to':[{'ipBlock':{'cidr':'0.0.0.0/1'}},{'ipBlock':{'cidr':'128.0.0.0/1'}}]}]}",
       why, {egress_all}},
      {"egress to 2000::/3", np, "{'egress':[{'to':[{'ipBlock':{'cidr':'2000::/3'}}]}]}", why,
       {egress_all}},
      {"second rule wide", np,
       "{'egress':[{'to':[{'podSelector':{}}]},{'ports':[{'port':53}]}]}", why, {egress_all}},
      {"empty ingress rule", np, "{'ingress':[{}]}", nullptr, {ingress_all}},
      {"ingress with an empty from", np, "{'ingress':[{'from':[]}]}", nullptr, {ingress_all}},
      {"ingress from namespaceSelector {}", np,
       "{'ingress':[{'from':[{'namespaceSelector':{}}]}]}", nullptr, {ingress_all}},
      {"ingress from namespaceSelector {} and a pod selector", np,
       "{'ingress':[{'from':[{'namespaceSelector':{},'podSelector':{'matchLabels':{'a':'b'}}}]}]}",
       nullptr, {ingress_all}},
      {"ingress from namespaceSelector Exists", np,
       "{'ingress':[{'from':[{'namespaceSelector':{'matchExpressions':[{'key':'kubernetes.io/"
       "metadata.name','operator':'Exists'}]}}]}]}",
       nullptr, {ingress_all}},
      {"ingress from namespaceSelector NotIn", np,
       "{'ingress':[{'from':[{'namespaceSelector':{'matchExpressions':[{'key':'kubernetes.io/"
       "metadata.name','operator':'NotIn','values':['x']}]}}]}]}",
       nullptr, {ingress_all}},
      {"ingress from 0.0.0.0/0", np, "{'ingress':[{'from':[{'ipBlock':{'cidr':'0.0.0.0/0'}}]}]}",
       nullptr, {ingress_all}},
      {"the issue's allow-all", np,
       "{'podSelector':{},'policyTypes':['Ingress','Egress'],'ingress':[{}],'egress':[{}]}",
       nullptr, {egress_all, ingress_all, undocumented}},
  });
}

TEST_CASE("guardrails: every wide CiliumNetworkPolicy form is refused") {
  const char* why = "'db'";
  run({
      {"toEntities world", cnp, "{'egress':[{'toEntities':['world']}]}", why, {egress_all}},
      {"toEntities all", cnp, "{'egress':[{'toEntities':['all']}]}", why, {egress_all}},
      {"toEntities world-ipv4", cnp, "{'egress':[{'toEntities':['world-ipv4']}]}", why,
       {egress_all}},
      {"the issue's world and cluster", cnp, "{'egress':[{'toEntities':['world','cluster']}]}",
       nullptr, {egress_all, undocumented}},
      {"toCIDR 0.0.0.0/0", cnp, "{'egress':[{'toCIDR':['0.0.0.0/0']}]}", why, {egress_all}},
      {"toCIDR ::/0", cnp, "{'egress':[{'toCIDR':['::/0']}]}", why, {egress_all}},
      {"toCIDRSet 0.0.0.0/0 with except", cnp,
       "{'egress':[{'toCIDRSet':[{'cidr':'0.0.0.0/0','except':['10.0.0.0/8']}]}]}", why,
       {egress_all}},
      {"toCIDRSet ::/0", cnp, "{'egress':[{'toCIDRSet':[{'cidr':'::/0'}]}]}", why, {egress_all}},
      {"toFQDNs *", cnp, "{'egress':[{'toFQDNs':[{'matchPattern':'*'}]}]}", why, {egress_all}},
      {"toEndpoints reserved:world", cnp,
       "{'egress':[{'toEndpoints':[{'matchLabels':{'reserved:world':''}}]}]}", why, {egress_all}},
      {"toPorts without a destination", cnp,
       "{'egress':[{'toPorts':[{'ports':[{'port':'443','protocol':'TCP'}]}]}]}", why,
       {egress_all}},
      {"fromEntities world", cnp, "{'ingress':[{'fromEntities':['world']}]}", nullptr,
       {ingress_all}},
      {"fromEntities cluster", cnp, "{'ingress':[{'fromEntities':['cluster']}]}", nullptr,
       {ingress_all}},
      {"fromEntities all", cnp, "{'ingress':[{'fromEntities':['all']}]}", nullptr, {ingress_all}},
      {"fromCIDR 0.0.0.0/0", cnp, "{'ingress':[{'fromCIDR':['0.0.0.0/0']}]}", nullptr,
       {ingress_all}},
      {"fromCIDRSet ::/0", cnp, "{'ingress':[{'fromCIDRSet':[{'cidr':'::/0'}]}]}", nullptr,
       {ingress_all}},
      {"fromEndpoints over every namespace", cnp,
       "{'ingress':[{'fromEndpoints':[{'matchExpressions':[{'key':'k8s:io.kubernetes.pod."
       "namespace','operator':'Exists'}]}]}]}",
       nullptr, {ingress_all}},
      {"ingress toPorts without a source", cnp,
       "{'ingress':[{'toPorts':[{'ports':[{'port':'80'}]}]}]}", nullptr, {ingress_all}},
      {"specs[] are judged too", cnp, "[{'egress':[{'toEntities':['world']}]}]", why,
       {egress_all}, "specs"},
  });
}

TEST_CASE("guardrails: narrow exceptions stay possible, and egress beyond the namespace needs "
          "the annotation") {
  const char* why = "'reads the feature store at 10.0.12.5'";
  run({
      // Inside the namespace: nothing to document.
      {"egress to pods of the namespace", np, "{'egress':[{'to':[{'podSelector':{}}]}]}",
       nullptr, {}},
      {"ingress from pods of the namespace", np,
       "{'ingress':[{'from':[{'podSelector':{'matchLabels':{'app':'web'}}}]}]}", nullptr, {}},
      {"ingress from a named namespace", np,
       "{'ingress':[{'from':[{'namespaceSelector':{'matchLabels':{'kubernetes.io/metadata.name':"
       "'ingress-nginx'}}}]}]}",
       nullptr, {}},
      {"ingress from namespaces In a list", np,
       "{'ingress':[{'from':[{'namespaceSelector':{'matchExpressions':[{'key':'team','operator':"
       "'In','values':['a']}]}}]}]}",
       nullptr, {}},
      {"ingress from a load balancer subnet", np,
       "{'ingress':[{'from':[{'ipBlock':{'cidr':'10.1.0.0/16'}}]}]}", nullptr, {}},
      {"no rules at all (deny)", np, "{'podSelector':{},'policyTypes':['Ingress','Egress']}",
       nullptr, {}},
      {"cilium empty rules only turn default deny on", cnp, "{'ingress':[{}],'egress':[{}]}",
       nullptr, {}},
      {"cilium toEndpoints in the namespace", cnp,
       "{'egress':[{'toEndpoints':[{'matchLabels':{'app':'db'}}]}]}", nullptr, {}},
      {"cilium ingressDeny/egressDeny are not judged", cnp,
       "{'egressDeny':[{'toEntities':['world']}],'ingressDeny':[{}]}", nullptr, {}},
      // Beyond the namespace: allowed when documented.
      {"database CIDR, documented", np,
       "{'egress':[{'to':[{'ipBlock':{'cidr':'10.0.12.0/24'}}],'ports':[{'port':5432}]}]}", why,
       {}},
      {"database CIDR, undocumented", np,
       "{'egress':[{'to':[{'ipBlock':{'cidr':'10.0.12.0/24'}}]}]}", nullptr, {undocumented}},
      {"blank reason does not document", np,
       "{'egress':[{'to':[{'ipBlock':{'cidr':'10.0.12.0/24'}}]}]}", "'  '", {undocumented}},
      {"a /8 is still narrow", np, "{'egress':[{'to':[{'ipBlock':{'cidr':'10.0.0.0/8'}}]}]}",
       why, {}},
      {"a single IPv6 host", np,
       "{'egress':[{'to':[{'ipBlock':{'cidr':'fd00:10::5/128'}}]}]}", why, {}},
      {"another namespace, undocumented", np,
       "{'egress':[{'to':[{'namespaceSelector':{'matchLabels':{'kubernetes.io/metadata.name':"
       "'database'}}}]}]}",
       nullptr, {undocumented}},
      {"bucket FQDN, documented", cnp,
       "{'egress':[{'toFQDNs':[{'matchName':'my-bucket.s3.amazonaws.com'}],'toPorts':[{'ports':"
       "[{'port':'443'}]}]}]}",
       why, {}},
      {"bucket FQDN, undocumented", cnp,
       "{'egress':[{'toFQDNs':[{'matchName':'my-bucket.s3.amazonaws.com'}]}]}", nullptr,
       {undocumented}},
      {"cilium database CIDR, documented", cnp, "{'egress':[{'toCIDR':['10.0.12.5/32']}]}", why,
       {}},
      {"cilium toServices, undocumented", cnp,
       "{'egress':[{'toServices':[{'k8sService':{'serviceName':'pg','namespace':'db'}}]}]}",
       nullptr, {undocumented}},
      {"cilium toEntities cluster is beyond, not wide", cnp,
       "{'egress':[{'toEntities':['cluster']}]}", nullptr, {undocumented}},
      {"cilium kube-apiserver, documented", cnp,
       "{'egress':[{'toEntities':['kube-apiserver']}]}", why, {}},
      {"cilium toEndpoints in another namespace", cnp,
       "{'egress':[{'toEndpoints':[{'matchLabels':{'k8s:io.kubernetes.pod.namespace':'db'}}]}]}",
       nullptr, {undocumented}},
      {"cilium fromEndpoints of a named namespace", cnp,
       "{'ingress':[{'fromEndpoints':[{'matchLabels':{'k8s:io.kubernetes.pod.namespace':"
       "'ingress-nginx'}}]}]}",
       nullptr, {}},
  });
}

TEST_CASE("guardrails: messages say what is too wide, how to narrow it, which annotation") {
  const auto wide = check(np, policy_json("{'egress':[{'to':[{'ipBlock':{'cidr':'0.0.0.0/0'}}]}]}",
                                          "'x'"));
  REQUIRE(wide.size() == 1);
  CHECK(wide[0].severity == finding_severity::high);
  CHECK(wide[0].message.find("spec.egress[0].to[0].ipBlock.cidr 0.0.0.0/0") != std::string::npos);
  CHECK(wide[0].message.find("ipBlock with a narrow CIDR") != std::string::npos);
  CHECK(wide[0].message.find("mlnetpol.io/exception-reason") != std::string::npos);
  const auto ingress = check(np, policy_json("{'ingress':[{}]}"));
  REQUIRE(ingress.size() == 1);
  CHECK(ingress[0].message.find("spec.ingress[0] (no `from`: every source)") != std::string::npos);
  CHECK(ingress[0].message.find("namespaceSelector.matchLabels") != std::string::npos);
  const auto undoc =
      check(np, policy_json("{'egress':[{'to':[{'ipBlock':{'cidr':'10.0.12.0/24'}}]}]}"));
  REQUIRE(undoc.size() == 1);
  CHECK(undoc[0].severity == finding_severity::medium);
  CHECK(undoc[0].message.find("spec.egress[0].to[0].ipBlock 10.0.12.0/24") != std::string::npos);
  CHECK(undoc[0].message.find("metadata.annotations[\"mlnetpol.io/exception-reason\"]") !=
        std::string::npos);
  // Many offending fields: the first few are named, the rest counted (bounded messages).
  std::string many = "{'egress':[";
  for (int i = 0; i < 1000; ++i) many += std::string(i ? "," : "") + "{}";
  many += "]}";
  const auto bounded = check(np, policy_json(many, "'x'"));
  REQUIRE(bounded.size() == 1);
  CHECK(bounded[0].message.find("and 996 more") != std::string::npos);
  CHECK(bounded[0].message.size() < 1000);
}

TEST_CASE("guardrails: kinds") {
  CHECK(tenant_policy_kind_of("networking.k8s.io", "NetworkPolicy") == np);
  CHECK(tenant_policy_kind_of("cilium.io", "CiliumNetworkPolicy") == cnp);
  CHECK(!tenant_policy_kind_of("cilium.io", "CiliumClusterwideNetworkPolicy"));
  CHECK(!tenant_policy_kind_of("", "Pod"));
  CHECK(is_tenant_policy_rule(rule_tenant_egress_all));
  CHECK(!is_tenant_policy_rule("host-network"));
}

namespace {

struct admission_case {
  rapidjson::Document doc;
  std::vector<std::string> groups{"system:authenticated"};
  request_facts facts(const std::string& object, const std::string& user = "alice",
                      std::string_view operation = "CREATE", std::string_view ns = "team-a") {
    doc.Parse(object.c_str());
    REQUIRE(!doc.HasParseError());
    request_facts f;
    f.group = "networking.k8s.io";
    f.kind = "NetworkPolicy";
    f.operation = operation;
    f.namespace_name = ns;
    f.name = "p";
    f.username = user_ = user;
    f.groups = groups;
    f.object = &doc;
    return f;
  }
  std::string user_;
};

config tenant_config() {
  config cfg;
  cfg.tenant_namespaces = {"team-a"};
  return cfg;
}

const std::string allow_all =
    j("{'metadata':{'name':'p'},'spec':{'podSelector':{},'ingress':[{}],'egress':[{}]}}");
const std::string documented_db =
    j("{'metadata':{'name':'p','annotations':{'mlnetpol.io/exception-reason':'orders db'}},"
      "'spec':{'podSelector':{},'egress':[{'to':[{'ipBlock':{'cidr':'10.0.12.0/24'}}]}]}}");

}  // namespace

TEST_CASE("guardrails in admission: modes, exemptions, scope") {
  SUBCASE("enforce denies with every finding's message") {
    admission_case c;
    const decision d = validate(c.facts(allow_all), tenant_config());
    CHECK_FALSE(d.allowed);
    CHECK(d.code == 403);
    CHECK(d.result == outcome::denied);
    CHECK(d.violations.size() == 3);
    CHECK(d.message.find("allows egress to every address") != std::string::npos);
    CHECK(d.message.find("allows ingress from every namespace or address") != std::string::npos);
  }
  SUBCASE("a documented narrow exception is admitted") {
    admission_case c;
    const decision d = validate(c.facts(documented_db), tenant_config());
    CHECK(d.allowed);
    CHECK(d.violations.empty());
  }
  SUBCASE("UPDATE is judged like CREATE; DELETE is not") {
    admission_case c;
    CHECK_FALSE(validate(c.facts(allow_all, "alice", "UPDATE"), tenant_config()).allowed);
    admission_case del;
    request_facts f = del.facts(allow_all, "alice", "DELETE");
    f.old_object = f.object;
    f.object = nullptr;
    CHECK(validate(f, tenant_config()).allowed);
  }
  SUBCASE("warn allows with warnings") {
    config cfg = tenant_config();
    cfg.tenant_policy_guardrails = enforcement_mode::warn;
    admission_case c;
    const decision d = validate(c.facts(allow_all), cfg);
    CHECK(d.allowed);
    CHECK(d.result == outcome::warned);
    REQUIRE(d.warnings.size() == 3);
    CHECK(d.warnings[0].find("egress to every address") != std::string::npos);
    CHECK(d.audit_annotations.empty());
  }
  SUBCASE("audit allows, reports what enforce would deny") {
    config cfg = tenant_config();
    cfg.tenant_policy_guardrails = enforcement_mode::audit;
    admission_case c;
    const decision d = validate(c.facts(allow_all), cfg);
    CHECK(d.allowed);
    CHECK(d.result == outcome::audited);
    CHECK(d.violations.size() == 3);
    CHECK(d.warnings[0].starts_with("would deny: "));
    REQUIRE(d.audit_annotations.size() == 1);
    CHECK(d.audit_annotations[0].first == "would-deny-tenant-policy");
  }
  SUBCASE("the guardrail mode is its own: enforcement_mode audit does not relax it") {
    config cfg = tenant_config();
    cfg.enforcement = enforcement_mode::audit;
    admission_case c;
    CHECK_FALSE(validate(c.facts(allow_all), cfg).allowed);
  }
  SUBCASE("admin_groups and mlnetpol's service account are exempt") {
    const config cfg = tenant_config();
    admission_case admin;
    admin.groups = {"system:masters"};
    CHECK(validate(admin.facts(allow_all), cfg).allowed);
    admission_case sa;
    CHECK(validate(sa.facts(allow_all, cfg.service_account), cfg).allowed);
  }
  SUBCASE("the managed-by label exempts nothing: a tenant's copy is judged") {
    admission_case c;
    const std::string labelled = j(
        "{'metadata':{'name':'default-deny-egress','labels':{'app.kubernetes.io/managed-by':"
        "'mlnetpol'}},'spec':{'podSelector':{},'egress':[{}]}}");
    CHECK_FALSE(validate(c.facts(labelled), tenant_config()).allowed);
  }
  SUBCASE("namespaces that are not secured are not judged") {
    admission_case c;
    CHECK(validate(c.facts(allow_all, "alice", "CREATE", "elsewhere"), tenant_config()).allowed);
  }
  SUBCASE("exempt users are never judged") {
    config cfg = tenant_config();
    cfg.exempt_users = {"alice"};
    admission_case c;
    const decision d = validate(c.facts(allow_all), cfg);
    CHECK(d.allowed);
    CHECK(d.result == outcome::exempt);
  }
}
