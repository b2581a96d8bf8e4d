#include "policy/render/render.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string_view>

#include "policy/eval/model.hpp"
#include "policy/fqdn.hpp"
#include "policy/namespaces.hpp"
#include "policy/owned_labels.hpp"
#include "policy/render/clusterwide.hpp"
#include "policy/render/hash.hpp"
#include "policy/render/model.hpp"
#include "policy/render/object.hpp"
#include "policy/render/yaml.hpp"

namespace mlnetpol::policy {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
using render::peer;
using render::peer_kind;
using render::pod_group;
using render::policy_model;
using render::port;
using render::protocol;
using render::rule;

constexpr const char* cilium_namespace_label = "k8s:io.kubernetes.pod.namespace";
constexpr const char* namespace_name_label = "kubernetes.io/metadata.name";

void str(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void key(json_writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void string_map(json_writer& w, const std::map<std::string, std::string>& m,
                std::string_view key_prefix = {}) {
  w.StartObject();
  for (const auto& [k, v] : m) {
    key(w, std::string(key_prefix) + k);
    str(w, v);
  }
  w.EndObject();
}

// A label selector; the Cilium form prefixes keys with the `k8s:` source and may pin the namespace.
void selector(json_writer& w, const pod_group& g, bool cilium, bool with_namespace) {
  const std::string_view prefix = cilium ? "k8s:" : "";
  std::map<std::string, std::string> labels;
  for (const auto& [k, v] : g.match_labels) labels[std::string(prefix) + k] = v;
  if (with_namespace) labels[cilium_namespace_label] = g.namespace_name;
  w.StartObject();
  if (!g.exists_key.empty()) {
    key(w, "matchExpressions");
    w.StartArray();
    w.StartObject();
    key(w, "key");
    str(w, std::string(prefix) + g.exists_key);
    key(w, "operator");
    str(w, "Exists");
    w.EndObject();
    w.EndArray();
  }
  if (!labels.empty()) {
    key(w, "matchLabels");
    string_map(w, labels);
  }
  w.EndObject();
}

// --- NetworkPolicy ---

void np_namespace_selector(json_writer& w, const std::string& ns) {
  key(w, "namespaceSelector");
  w.StartObject();
  key(w, "matchLabels");
  string_map(w, {{namespace_name_label, ns}});
  w.EndObject();
}

void np_peer(json_writer& w, const peer& p, const std::string& policy_namespace) {
  w.StartObject();
  switch (p.kind) {
    case peer_kind::pods:
      if (p.pods.namespace_name != policy_namespace) {
        np_namespace_selector(w, p.pods.namespace_name);
        if (!p.pods.match_labels.empty() || !p.pods.exists_key.empty()) {
          key(w, "podSelector");
          selector(w, p.pods, false, false);
        }
      } else {
        key(w, "podSelector");
        selector(w, p.pods, false, false);
      }
      break;
    case peer_kind::kube_dns:
      np_namespace_selector(w, "kube-system");
      key(w, "podSelector");
      selector(w, {"kube-system", {{"k8s-app", "kube-dns"}}, {}}, false, false);
      break;
    case peer_kind::api_server:
    case peer_kind::cidr:
      key(w, "ipBlock");
      w.StartObject();
      key(w, "cidr");
      str(w, p.cidr);
      if (!p.except.empty()) {
        key(w, "except");
        w.StartArray();
        for (const auto& e : p.except) str(w, e);
        w.EndArray();
      }
      w.EndObject();
      break;
    case peer_kind::fqdns:
    case peer_kind::service:
    case peer_kind::anywhere:
      break;  // not built in standard mode (anywhere: the rule has no `to`)
  }
  w.EndObject();
}

void np_rule(json_writer& w, const rule& r, const std::string& policy_namespace, bool ingress) {
  w.StartObject();
  const bool any_peer = std::any_of(r.peers.begin(), r.peers.end(),
                                    [](const peer& p) { return p.kind == peer_kind::anywhere; });
  if (!r.peers.empty() && !any_peer) {
    key(w, ingress ? "from" : "to");
    w.StartArray();
    for (const auto& p : r.peers) np_peer(w, p, policy_namespace);
    w.EndArray();
  }
  if (!r.ports.empty()) {
    key(w, "ports");
    w.StartArray();
    for (const port& p : r.ports) {
      // NetworkPolicy has no "any protocol": DNS is UDP and TCP.
      const std::vector<const char*> protos = p.proto == protocol::any
                                                  ? std::vector<const char*>{"UDP", "TCP"}
                                                  : std::vector<const char*>{"TCP"};
      for (const char* proto : protos) {
        w.StartObject();
        key(w, "protocol");
        str(w, proto);
        key(w, "port");
        w.Uint(p.number);
        w.EndObject();
      }
    }
    w.EndArray();
  }
  w.EndObject();
}

void np_spec(json_writer& w, const policy_model& m) {
  w.StartObject();
  key(w, "podSelector");
  selector(w, m.selector, false, false);
  key(w, "policyTypes");
  w.StartArray();
  if (m.ingress_type) str(w, "Ingress");
  if (m.egress_type) str(w, "Egress");
  w.EndArray();
  // No rules for a direction in policyTypes: nothing is allowed (default deny).
  if (!m.ingress.empty()) {
    key(w, "ingress");
    w.StartArray();
    for (const auto& r : m.ingress) np_rule(w, r, m.namespace_name, true);
    w.EndArray();
  }
  if (!m.egress.empty()) {
    key(w, "egress");
    w.StartArray();
    for (const auto& r : m.egress) np_rule(w, r, m.namespace_name, false);
    w.EndArray();
  }
  w.EndObject();
}

// --- CiliumNetworkPolicy ---

void cnp_ports(json_writer& w, const rule& r) {
  key(w, "toPorts");
  w.StartArray();
  w.StartObject();
  key(w, "ports");
  w.StartArray();
  for (const port& p : r.ports) {
    w.StartObject();
    key(w, "port");
    str(w, std::to_string(p.number));  // the CRD types ports as strings (a number gets a 500)
    key(w, "protocol");
    str(w, p.proto == protocol::any ? "ANY" : "TCP");
    w.EndObject();
  }
  w.EndArray();
  if (r.dns_l7) {
    // Without an L7 part the DNS proxy never sees the lookups and toFQDNs matches nothing.
    key(w, "rules");
    w.StartObject();
    key(w, "dns");
    w.StartArray();
    w.StartObject();
    key(w, "matchPattern");
    str(w, "*");
    w.EndObject();
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  w.EndArray();
}

void cnp_rule(json_writer& w, const rule& r, bool ingress) {
  w.StartObject();
  std::vector<const peer*> endpoints, fqdns, services;
  bool api_server = false;
  for (const auto& p : r.peers) {
    switch (p.kind) {
      case peer_kind::pods:
      case peer_kind::kube_dns:
        endpoints.push_back(&p);
        break;
      case peer_kind::fqdns:
        fqdns.push_back(&p);
        break;
      case peer_kind::service:
        services.push_back(&p);
        break;
      case peer_kind::api_server:
        api_server = true;
        break;
      case peer_kind::cidr:
      case peer_kind::anywhere:
        break;  // anywhere: only toPorts; cidr is not built in Cilium mode
    }
  }
  if (!endpoints.empty()) {
    key(w, ingress ? "fromEndpoints" : "toEndpoints");
    w.StartArray();
    for (const peer* p : endpoints) {
      if (p->kind == peer_kind::kube_dns) {
        selector(w, {"kube-system", {{"k8s-app", "kube-dns"}}, {}}, true, true);
      } else {
        selector(w, p->pods, true, true);
      }
    }
    w.EndArray();
  }
  if (api_server) {
    key(w, "toEntities");
    w.StartArray();
    str(w, "kube-apiserver");
    w.EndArray();
  }
  if (!fqdns.empty()) {
    key(w, "toFQDNs");
    w.StartArray();
    for (const peer* p : fqdns) {
      for (const auto& name : p->names) {
        w.StartObject();
        key(w, is_fqdn_pattern(name) ? "matchPattern" : "matchName");
        str(w, name);
        w.EndObject();
      }
    }
    w.EndArray();
  }
  if (!services.empty()) {
    key(w, "toServices");
    w.StartArray();
    for (const peer* p : services) {
      w.StartObject();
      key(w, "k8sService");
      w.StartObject();
      key(w, "namespace");
      str(w, p->service.namespace_name);
      key(w, "serviceName");
      str(w, p->service.service_name);
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.ports.empty()) cnp_ports(w, r);
  w.EndObject();
}

void enable_default_deny(json_writer& w) {
  key(w, "enableDefaultDeny");
  w.StartObject();
  key(w, "egress");
  w.Bool(true);
  key(w, "ingress");
  w.Bool(true);
  w.EndObject();
}

void cnp_spec(json_writer& w, const policy_model& m) {
  w.StartObject();
  key(w, "description");
  str(w, m.description);
  key(w, "endpointSelector");
  selector(w, m.selector, true, false);
  // Explicit: the module's policy had no ingress section, so Cilium left ingress open.
  if (m.explicit_default_deny) enable_default_deny(w);
  if (m.ingress_type) {
    key(w, "ingress");
    w.StartArray();
    if (m.ingress.empty()) {
      // An ingress section with one empty rule: default deny at ingress, nothing allowed.
      w.StartObject();
      w.EndObject();
    }
    for (const auto& r : m.ingress) cnp_rule(w, r, true);
    w.EndArray();
  }
  if (m.egress_type) {
    key(w, "egress");
    w.StartArray();
    if (m.egress.empty()) {
      w.StartObject();
      w.EndObject();
    }
    for (const auto& r : m.egress) cnp_rule(w, r, false);
    w.EndArray();
  }
  w.EndObject();
}

// --- CiliumClusterwideNetworkPolicy ---

void ccnp_expression(json_writer& w, const std::string& label_key, const char* op,
                     std::string_view value) {
  w.StartObject();
  key(w, "key");
  str(w, label_key);
  key(w, "operator");
  str(w, op);
  if (!value.empty()) {
    key(w, "values");
    w.StartArray();
    str(w, value);
    w.EndArray();
  }
  w.EndObject();
}

// Every endpoint of a namespace labelled secured (Cilium labels endpoints with their namespace's
// labels) whose enforcement override is not audit: ingress default deny, egress DNS only.
void ccnp_spec(json_writer& w, const config& cfg) {
  const std::string ns_label = "k8s:" + std::string(eval::cilium_namespace_label_prefix);
  w.StartObject();
  key(w, "description");
  str(w,
      "Default deny (ingress and egress) but DNS for every endpoint of a namespace mlnetpol "
      "secures, from its admission on; the namespace's own policies add what it may do");
  key(w, "endpointSelector");
  w.StartObject();
  key(w, "matchExpressions");
  w.StartArray();
  // NotIn also matches namespaces without the override.
  ccnp_expression(w, ns_label + std::string(enforcement_label), "NotIn",
                  to_string(enforcement_mode::audit));
  if (!cfg.secure_ml_namespaces) {
    // mlnetpol.io/secured is on ML namespaces too, which are not default deny then; a namespace
    // both ML and platform/tenant is left to its own set and the scheduling gate.
    for (const auto role : {training_label, inference_label})
      ccnp_expression(w, ns_label + std::string(role), "DoesNotExist", {});
  }
  w.EndArray();
  key(w, "matchLabels");
  string_map(w, {{ns_label + std::string(secured_label), std::string(role_label_value)}});
  w.EndObject();
  if (cfg.cilium_default_deny_field) enable_default_deny(w);
  // An ingress section with one empty rule: default deny at ingress, nothing allowed.
  key(w, "ingress");
  w.StartArray();
  w.StartObject();
  w.EndObject();
  w.EndArray();
  key(w, "egress");
  w.StartArray();
  cnp_rule(w, render::dns_rule(true), false);
  w.EndArray();
  w.EndObject();
}

rendered_object render_one(const policy_model& m) {
  rapidjson::StringBuffer spec_buf;
  {
    json_writer w(spec_buf);
    if (m.cilium) {
      cnp_spec(w, m);
    } else {
      np_spec(w, m);
    }
  }
  return render::make_object(m.cilium ? "cilium.io/v2" : "networking.k8s.io/v1",
                             m.cilium ? "CiliumNetworkPolicy" : "NetworkPolicy", m.namespace_name,
                             m.name, {spec_buf.GetString(), spec_buf.GetSize()});
}

}  // namespace

rendered_object render::make_object(std::string_view api_version, std::string_view kind,
                                    std::string_view namespace_name, std::string_view name,
                                    std::string_view spec) {
  rendered_object out;
  out.api_version = std::string(api_version);
  out.kind = std::string(kind);
  out.namespace_name = std::string(namespace_name);
  out.name = std::string(name);
  out.spec_hash = render::spec_hash(spec);

  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  key(w, "apiVersion");
  str(w, out.api_version);
  key(w, "kind");
  str(w, out.kind);
  key(w, "metadata");
  w.StartObject();
  key(w, "name");
  str(w, out.name);
  if (!out.namespace_name.empty()) {
    key(w, "namespace");
    str(w, out.namespace_name);
  }
  key(w, "labels");
  string_map(
      w,
      {{std::string(managed_by_label), std::string(managed_by_value)},
       {std::string(part_of_label), std::string(managed_by_value)},
       {std::string(policy_label), out.name}});
  key(w, "annotations");
  string_map(w, {{std::string(spec_hash_annotation), out.spec_hash}});
  w.EndObject();
  key(w, "spec");
  w.RawValue(spec.data(), spec.size(), rapidjson::kObjectType);
  w.EndObject();
  out.json.assign(buf.GetString(), buf.GetSize());
  return out;
}

std::vector<rendered_object> render_policies(const config& cfg, std::string_view only_namespace) {
  std::vector<rendered_object> out;
  for (const auto& m : render::build_models(cfg, only_namespace)) out.push_back(render_one(m));
  return out;
}

std::vector<rendered_object> render_namespace(const config& cfg, const std::string& namespace_name,
                                              const namespace_roles& roles) {
  std::vector<rendered_object> out;
  for (const auto& m : render::namespace_models(cfg, namespace_name, roles))
    out.push_back(render_one(m));
  return out;
}

std::vector<rendered_object> render_clusterwide(const config& cfg) {
  if (!cfg.enabled || !cfg.cilium_mode || cfg.enforcement == enforcement_mode::audit) return {};
  rapidjson::StringBuffer buf;
  {
    json_writer w(buf);
    ccnp_spec(w, cfg);
  }
  return {render::make_object(clusterwide_policy_api_version, clusterwide_policy_kind, "",
                              clusterwide_policy_name, {buf.GetString(), buf.GetSize()})};
}

std::vector<rendered_object> render_all(const config& cfg, std::string_view only_namespace) {
  auto out = render_policies(cfg, only_namespace);
  if (only_namespace.empty()) {
    for (auto& o : render_clusterwide(cfg)) out.push_back(std::move(o));
  }
  return out;
}

render_summary summarize(const config& cfg) {
  const namespace_index index(cfg);
  return summarize(cfg, index, [&](const std::string& ns) {
    return render_namespace(cfg, ns, index.roles(ns)).size();
  });
}

render_summary summarize(const config& cfg, const namespace_index& index,
                         const std::function<std::size_t(const std::string&)>& policies_of) {
  render_summary s;
  s.secured_namespaces = index.secured();
  s.cilium_mode_enabled = cfg.enabled && cfg.cilium_mode;
  s.ml_policies_enabled = cfg.enabled && cfg.enable_ml_policies;
  for (const auto& ns : index.policy_namespaces()) s.policy_count += policies_of(ns);
  return s;
}

std::string summary_json(const render_summary& summary) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  key(w, "secured_namespaces");
  w.StartArray();
  for (const auto& ns : summary.secured_namespaces) str(w, ns);
  w.EndArray();
  key(w, "cilium_mode_enabled");
  w.Bool(summary.cilium_mode_enabled);
  key(w, "ml_policies_enabled");
  w.Bool(summary.ml_policies_enabled);
  key(w, "policy_count");
  w.Uint64(summary.policy_count);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string list_json(const std::vector<rendered_object>& objects, bool pretty) {
  std::string compact = R"({"apiVersion":"v1","kind":"List","metadata":{},"items":[)";
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (i > 0) compact += ',';
    compact += objects[i].json;
  }
  compact += "]}";
  if (!pretty) return compact;
  rapidjson::Document doc;
  doc.Parse(compact.data(), compact.size());
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string objects_yaml(const std::vector<rendered_object>& objects) {
  std::string out;
  for (const auto& o : objects) {
    out += "---\n";
    out += render::json_to_yaml(o.json);
  }
  return out;
}

}  // namespace mlnetpol::policy
