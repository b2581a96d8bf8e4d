// Properties every rendered configuration must have, checked on the parsed objects.
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "policy/fqdn.hpp"
#include "policy/namespaces.hpp"
#include "policy/render/hash.hpp"
#include "policy/render/render.hpp"
#include "tests/support/test_configs.hpp"

using namespace mlnetpol;
using rapidjson::Value;

namespace {

struct parsed {
  policy::rendered_object object;
  rapidjson::Document doc;
};

std::vector<parsed> render_parsed(const policy::config& cfg) {
  std::vector<parsed> out;
  for (auto& o : policy::render_policies(cfg)) {
    parsed p;
    p.object = o;
    p.doc.Parse(o.json.c_str());
    REQUIRE_FALSE(p.doc.HasParseError());
    out.push_back(std::move(p));
  }
  return out;
}

const parsed* find(const std::vector<parsed>& objects, const std::string& ns,
                   const std::string& name) {
  for (const auto& p : objects) {
    if (p.object.namespace_name == ns && p.object.name == name) return &p;
  }
  return nullptr;
}

std::string str(const Value& v) {
  return v.IsString() ? v.GetString() : std::string();
}

std::string compact(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

bool is_empty_object(const Value& v) {
  return v.IsObject() && v.MemberCount() == 0;
}

const Value* member(const Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string label(const Value& selector, const std::string& key) {
  const Value* labels = member(selector, "matchLabels");
  if (labels == nullptr) return {};
  const Value* v = member(*labels, key.c_str());
  return v == nullptr ? std::string() : str(*v);
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// --- Cilium ---

bool cnp_is_dns_rule(const Value& rule) {
  const Value* to = member(rule, "toEndpoints");
  const Value* ports = member(rule, "toPorts");
  if (to == nullptr || ports == nullptr || to->Size() != 1 || ports->Size() != 1) return false;
  if (label((*to)[0], "k8s:io.kubernetes.pod.namespace") != "kube-system" ||
      label((*to)[0], "k8s:k8s-app") != "kube-dns") {
    return false;
  }
  const Value& p = (*ports)[0];
  const Value* dns = member(p, "rules") ? member(*member(p, "rules"), "dns") : nullptr;
  return p["ports"].Size() == 1 && str(p["ports"][0]["port"]) == "53" && dns != nullptr &&
         dns->Size() == 1 && str((*dns)[0]["matchPattern"]) == "*";
}

// --- NetworkPolicy ---

bool np_is_dns_rule(const Value& rule) {
  const Value* to = member(rule, "to");
  const Value* ports = member(rule, "ports");
  if (to == nullptr || ports == nullptr || to->Size() != 1) return false;
  const Value& peer = (*to)[0];
  if (member(peer, "namespaceSelector") == nullptr || member(peer, "podSelector") == nullptr) {
    return false;
  }
  std::set<std::string> seen;
  for (const auto& p : ports->GetArray()) {
    if (p["port"].IsInt() && p["port"].GetInt() == 53) seen.insert(str(p["protocol"]));
  }
  return label(peer["namespaceSelector"], "kubernetes.io/metadata.name") == "kube-system" &&
         label(peer["podSelector"], "k8s-app") == "kube-dns" && ports->Size() == 2 &&
         seen == std::set<std::string>{"UDP", "TCP"};
}

void check_common(const parsed& p) {
  const Value& d = p.doc;
  CHECK(str(d["metadata"]["name"]) == p.object.name);
  CHECK(str(d["metadata"]["namespace"]) == p.object.namespace_name);
  const Value& labels = d["metadata"]["labels"];
  CHECK(str(labels["app.kubernetes.io/managed-by"]) == "mlnetpol");
  CHECK(str(labels["app.kubernetes.io/part-of"]) == "mlnetpol");
  CHECK(str(labels["mlnetpol.io/policy"]) == p.object.name);
  const std::string hash = str(d["metadata"]["annotations"]["mlnetpol.io/spec-hash"]);
  CHECK(hash == p.object.spec_hash);
  CHECK(hash == policy::render::spec_hash(compact(d["spec"])));
  CHECK(str(d["apiVersion"]) == p.object.api_version);
  CHECK(str(d["kind"]) == p.object.kind);
}

void check_cilium(const policy::config& cfg, const std::vector<parsed>& objects) {
  for (const auto& p : objects) {
    CAPTURE(p.object.json);
    CHECK(p.object.kind == "CiliumNetworkPolicy");
    const Value& spec = p.doc["spec"];
    // Ports are strings, protocols in the CRD's enum; DNS always goes through the proxy.
    for (const char* dir : {"ingress", "egress"}) {
      const Value* rules = member(spec, dir);
      if (rules == nullptr) continue;
      for (const auto& rule : rules->GetArray()) {
        if (const Value* tp = member(rule, "toPorts")) {
          for (const auto& pr : tp->GetArray()) {
            for (const auto& port : pr["ports"].GetArray()) {
              CHECK(port["port"].IsString());
              const std::string proto = str(port["protocol"]);
              CHECK((proto == "TCP" || proto == "UDP" || proto == "ANY"));
              if (str(port["port"]) == "53") CHECK(cnp_is_dns_rule(rule));
            }
          }
        }
      }
    }
  }
  for (const auto& ns : policy::secured_namespaces(cfg)) {
    CAPTURE(ns);
    const parsed* dd = find(objects, ns, "default-deny-with-dns");
    REQUIRE(dd != nullptr);
    const Value& spec = dd->doc["spec"];
    CHECK(is_empty_object(spec["endpointSelector"]));
    // Default deny in both directions: an ingress section with one empty rule, and an egress
    // section that only allows DNS.
    REQUIRE(member(spec, "ingress") != nullptr);
    CHECK(spec["ingress"].Size() == 1);
    CHECK(is_empty_object(spec["ingress"][0]));
    REQUIRE(member(spec, "egress") != nullptr);
    CHECK(spec["egress"].Size() == 1);
    CHECK(cnp_is_dns_rule(spec["egress"][0]));
    if (cfg.cilium_default_deny_field) {
      CHECK(spec["enableDefaultDeny"]["ingress"].GetBool());
      CHECK(spec["enableDefaultDeny"]["egress"].GetBool());
    } else {
      CHECK(member(spec, "enableDefaultDeny") == nullptr);
    }
  }
  for (const auto& ns : cfg.enabled&& cfg.enable_ml_policies ? cfg.ml_training_namespaces
                                                             : std::vector<std::string>{}) {
    CAPTURE(ns);
    const parsed* t = find(objects, ns, "ml-training-egress");
    REQUIRE(t != nullptr);
    const Value& spec = t->doc["spec"];
    CHECK(label(spec["endpointSelector"], "k8s:" + cfg.label_key) == "training");
    bool reaches_peers = false, dns = false, from_peers = false;
    for (const auto& rule : spec["egress"].GetArray()) {
      if (cnp_is_dns_rule(rule)) {
        dns = true;
        continue;
      }
      CHECK(member(rule, "toServices") == nullptr);
      CHECK(member(rule, "toCIDR") == nullptr);
      CHECK(member(rule, "toCIDRSet") == nullptr);
      if (const Value* to = member(rule, "toEndpoints")) {
        for (const auto& sel : to->GetArray()) {
          // Training pods of this namespace only: nothing of another namespace.
          CHECK(label(sel, "k8s:io.kubernetes.pod.namespace") == ns);
          CHECK(label(sel, "k8s:" + cfg.label_key) == "training");
          reaches_peers = true;
        }
      }
      if (const Value* ent = member(rule, "toEntities")) {
        CHECK(ent->Size() == 1);
        CHECK(str((*ent)[0]) == "kube-apiserver");
      }
      if (const Value* f = member(rule, "toFQDNs")) {
        CHECK(f->Size() == cfg.training_egress_fqdns.size());
      }
      // A rule without an L3 part would allow the ports to everything.
      CHECK((member(rule, "toEndpoints") || member(rule, "toEntities") || member(rule, "toFQDNs")));
    }
    for (const auto& rule : spec["ingress"].GetArray()) {
      const Value& from = rule["fromEndpoints"];
      for (const auto& sel : from.GetArray()) {
        const std::string from_ns = label(sel, "k8s:io.kubernetes.pod.namespace");
        CHECK((from_ns == ns || from_ns == cfg.monitoring_namespace));
        if (from_ns == ns) {
          CHECK(label(sel, "k8s:" + cfg.label_key) == "training");
          from_peers = true;
        }
      }
    }
    CHECK(reaches_peers);
    CHECK(from_peers);
    CHECK(dns);
  }
  for (const auto& ns : cfg.enabled&& cfg.enable_ml_policies ? cfg.ml_inference_namespaces
                                                             : std::vector<std::string>{}) {
    CAPTURE(ns);
    const parsed* inf = find(objects, ns, "ml-inference-policy");
    REQUIRE(inf != nullptr);
    const Value& spec = inf->doc["spec"];
    CHECK(label(spec["endpointSelector"], "k8s:" + cfg.label_key) == "inference");
    bool dns = false;
    // Egress: S3 by FQDN, the listed services, DNS; nothing else.
    for (const auto& rule : spec["egress"].GetArray()) {
      if (cnp_is_dns_rule(rule)) {
        dns = true;
      } else if (const Value* f = member(rule, "toFQDNs")) {
        CHECK(rule.MemberCount() == 2);
        for (const auto& e : f->GetArray()) {
          const std::string entry = str(e.MemberBegin()->value);
          CAPTURE(entry);
          CHECK(entry.find("s3") != std::string::npos);
          CHECK_FALSE(policy::fqdn_entry_matches(entry, "ec2.us-east-1.amazonaws.com"));
          CHECK_FALSE(policy::fqdn_entry_matches(entry, "sts.us-east-1.amazonaws.com"));
        }
        CHECK(str(rule["toPorts"][0]["ports"][0]["port"]) == "443");
      } else if (const Value* s = member(rule, "toServices")) {
        CHECK(rule.MemberCount() == 1);
        REQUIRE(s->Size() == cfg.inference_allowed_services.size());
        for (rapidjson::SizeType i = 0; i < s->Size(); ++i) {
          CHECK(str((*s)[i]["k8sService"]["serviceName"]) ==
                cfg.inference_allowed_services[i].service_name);
          CHECK(str((*s)[i]["k8sService"]["namespace"]) ==
                cfg.inference_allowed_services[i].namespace_name);
        }
      } else {
        FAIL("unexpected inference egress rule: " << compact(rule));
      }
    }
    CHECK(dns);
  }
}

void check_standard(const policy::config& cfg, const std::vector<parsed>& objects) {
  for (const auto& p : objects) CHECK(p.object.kind == "NetworkPolicy");
  for (const auto& ns : policy::secured_namespaces(cfg)) {
    CAPTURE(ns);
    const parsed* in = find(objects, ns, "default-deny-ingress");
    const parsed* out = find(objects, ns, "default-deny-egress");
    const parsed* dns = find(objects, ns, "allow-dns");
    REQUIRE(in != nullptr);
    REQUIRE(out != nullptr);
    REQUIRE(dns != nullptr);
    CHECK(compact(in->doc["spec"]) == R"({"podSelector":{},"policyTypes":["Ingress"]})");
    CHECK(compact(out->doc["spec"]) == R"({"podSelector":{},"policyTypes":["Egress"]})");
    CHECK(is_empty_object(dns->doc["spec"]["podSelector"]));
    CHECK(dns->doc["spec"]["egress"].Size() == 1);
    CHECK(np_is_dns_rule(dns->doc["spec"]["egress"][0]));
    CHECK(member(dns->doc["spec"], "ingress") == nullptr);
  }
  const bool ml = cfg.enabled && cfg.enable_ml_policies && cfg.standard_ml_policies;
  for (const auto& ns : cfg.ml_training_namespaces) {
    CAPTURE(ns);
    const parsed* t = find(objects, ns, "ml-training-allow");
    CHECK((t != nullptr) == ml);
    if (t == nullptr) continue;
    const Value& spec = t->doc["spec"];
    CHECK(label(spec["podSelector"], cfg.label_key) == "training");
    bool reaches_peers = false, dns = false;
    for (const auto& rule : spec["egress"].GetArray()) {
      if (np_is_dns_rule(rule)) {
        dns = true;
        continue;
      }
      const Value* to = member(rule, "to");
      if (to == nullptr) continue;  // ports only: the API server stand-in
      for (const auto& peer : to->GetArray()) {
        // No namespaceSelector: pods of another namespace are never reached.
        CHECK(member(peer, "namespaceSelector") == nullptr);
        if (const Value* ps = member(peer, "podSelector")) {
          CHECK(label(*ps, cfg.label_key) == "training");
          reaches_peers = true;
        }
      }
    }
    CHECK(reaches_peers);
    CHECK(dns);
  }
  for (const auto& ns : cfg.ml_inference_namespaces) {
    CAPTURE(ns);
    const parsed* inf = find(objects, ns, "ml-inference-allow");
    CHECK((inf != nullptr) == ml);
    if (inf == nullptr) continue;
    std::vector<std::string> service_namespaces;
    for (const auto& s : cfg.inference_allowed_services)
      service_namespaces.push_back(s.namespace_name);
    bool dns = false;
    for (const auto& rule : inf->doc["spec"]["egress"].GetArray()) {
      if (np_is_dns_rule(rule)) {
        dns = true;
        continue;
      }
      const Value* to = member(rule, "to");
      REQUIRE(to != nullptr);  // no port-only rule: that would reach everything
      for (const auto& peer : to->GetArray()) {
        if (const Value* ip = member(peer, "ipBlock")) {
          // The public-HTTPS stand-in for S3: 443 only, the private ranges excluded.
          CHECK(str((*ip)["cidr"]) == "0.0.0.0/0");
          CHECK((*ip)["except"].Size() == cfg.https_egress_except_cidrs.size());
          CHECK(rule["ports"].Size() == 1);
          CHECK(rule["ports"][0]["port"].GetInt() == 443);
        } else {
          CHECK(member(peer, "podSelector") == nullptr);
          CHECK(contains(service_namespaces,
                         label(peer["namespaceSelector"], "kubernetes.io/metadata.name")));
        }
      }
    }
    CHECK(dns);
  }
}

}  // namespace

TEST_CASE("render structure: every test configuration") {
  for (const auto& [name, cfg] : testing::all_configs()) {
    CAPTURE(name);
    const auto objects = render_parsed(cfg);
    for (const auto& p : objects) check_common(p);
    // policy_count is the number of objects rendered.
    CHECK(policy::summarize(cfg).policy_count == objects.size());
    // Names are unique per namespace, and every object is in a namespace that has policies.
    std::set<std::string> keys;
    const auto namespaces = policy::policy_namespaces(cfg);
    for (const auto& p : objects) {
      CHECK(keys.insert(p.object.namespace_name + "/" + p.object.name).second);
      CHECK(contains(namespaces, p.object.namespace_name));
    }
    if (cfg.cilium_mode) {
      check_cilium(cfg, objects);
    } else {
      check_standard(cfg, objects);
    }
  }
}

TEST_CASE("render structure: the module's names and counts") {
  // Basic: 3 per secured namespace (5), plus platform-egress-https in 3 platform namespaces, the
  // default ML namespaces (kubeflow, training, mlops, inference, serving) and monitoring's scrape.
  const auto basic = policy::render_policies(testing::basic_config());
  auto count = [](const std::vector<policy::rendered_object>& objs, const std::string& name) {
    return std::count_if(objs.begin(), objs.end(), [&](const auto& o) { return o.name == name; });
  };
  CHECK(count(basic, "default-deny-ingress") == 10);
  CHECK(count(basic, "default-deny-egress") == 10);
  CHECK(count(basic, "allow-dns") == 10);
  CHECK(count(basic, "platform-egress-https") == 3);
  CHECK(count(basic, "ml-training-allow") == 3);
  CHECK(count(basic, "ml-inference-allow") == 3);
  CHECK(count(basic, "monitoring-scrape-ml") == 1);
  CHECK(basic.size() == 40);

  const auto multi = policy::render_policies(testing::multi_tenant_config());
  // 3 platform + 3 tenant + the 5 default ML namespaces (mlops is both training and inference).
  CHECK(count(multi, "default-deny-with-dns") == 11);
  CHECK(count(multi, "platform-https-only") == 3);
  CHECK(count(multi, "ml-training-egress") == 3);
  CHECK(count(multi, "ml-inference-policy") == 3);

  const auto off = policy::render_policies(testing::standard_ml_config(false));
  CHECK(count(off, "ml-training-allow") == 0);
  CHECK(count(off, "ml-inference-allow") == 0);
  CHECK(count(off, "default-deny-ingress") == 3);

  // secure_ml_namespaces false reproduces the module: ML namespaces get only their ML policies.
  const auto unsecured = policy::render_policies(testing::cilium_unsecured_ml_config());
  for (const auto& o : unsecured) {
    if (o.namespace_name != "monitoring") CHECK(o.name != "default-deny-with-dns");
  }
  CHECK(count(unsecured, "ml-training-egress") == 2);
  CHECK(count(unsecured, "ml-inference-policy") == 2);

  CHECK(policy::render_policies(testing::disabled_config()).empty());
  CHECK(policy::summarize(testing::disabled_config()).policy_count == 0);
}

TEST_CASE("render structure: platform pods get HTTPS, the API server and DNS only") {
  for (const bool cilium : {true, false}) {
    auto cfg = testing::basic_config();
    cfg.cilium_mode = cilium;
    const auto objects = render_parsed(cfg);
    const parsed* p =
        find(objects, "argocd", cilium ? "platform-https-only" : "platform-egress-https");
    REQUIRE(p != nullptr);
    const Value& spec = p->doc["spec"];
    const Value& selector = spec[cilium ? "endpointSelector" : "podSelector"];
    CHECK(str(selector["matchExpressions"][0]["key"]) ==
          (cilium ? "k8s:app.kubernetes.io/part-of" : "app.kubernetes.io/part-of"));
    CHECK(str(selector["matchExpressions"][0]["operator"]) == "Exists");
    std::set<std::string> ports;
    for (const auto& rule : spec["egress"].GetArray()) {
      const Value& list = cilium ? rule["toPorts"][0]["ports"] : rule["ports"];
      for (const auto& port : list.GetArray()) {
        ports.insert(port["port"].IsString() ? str(port["port"])
                                             : std::to_string(port["port"].GetInt()));
      }
    }
    CHECK(ports == std::set<std::string>{"443", "6443", "53"});
  }
}

TEST_CASE("render structure: monitoring scrapes ML pods on their metrics ports") {
  auto cfg = testing::enhanced_config();
  auto objects = render_parsed(cfg);
  const parsed* m = find(objects, "monitoring", "monitoring-scrape-ml");
  REQUIRE(m != nullptr);
  const Value& egress = m->doc["spec"]["egress"];
  CHECK(egress.Size() == 4);  // two training and two inference namespaces
  CHECK(label(egress[0]["toEndpoints"][0], "k8s:io.kubernetes.pod.namespace") == "kubeflow");
  CHECK(str(egress[0]["toPorts"][0]["ports"][1]["port"]) == "9090");
  CHECK(label(egress[3]["toEndpoints"][0], "k8s:workload-type") == "inference");

  cfg.monitoring_scrapes_ml = false;
  objects = render_parsed(cfg);
  CHECK(find(objects, "monitoring", "monitoring-scrape-ml") == nullptr);
}

TEST_CASE("render: deterministic, filtered by namespace, hash follows the spec") {
  const auto cfg = testing::enhanced_config();
  const auto a = policy::render_policies(cfg);
  const auto b = policy::render_policies(cfg);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].json == b[i].json);

  const auto only = policy::render_policies(cfg, "training");
  CHECK(only.size() == 2);
  for (const auto& o : only) CHECK(o.namespace_name == "training");
  CHECK(policy::render_policies(cfg, "no-such-namespace").empty());

  auto changed = cfg;
  changed.training_metrics_ports = {8080};
  const auto c = policy::render_policies(changed, "training");
  const auto find_name = [](const auto& list, const std::string& name) {
    return *std::find_if(list.begin(), list.end(), [&](const auto& o) { return o.name == name; });
  };
  CHECK(find_name(c, "ml-training-egress").spec_hash !=
        find_name(only, "ml-training-egress").spec_hash);
  CHECK(find_name(c, "default-deny-with-dns").spec_hash ==
        find_name(only, "default-deny-with-dns").spec_hash);
}

TEST_CASE("render: spec hash is FNV-1a 64") {
  CHECK(policy::render::fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(policy::render::fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(policy::render::spec_hash("foobar") == "85944171f73967e8");
}
