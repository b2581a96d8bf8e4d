#include "policy/eval/parse.hpp"

#include <string_view>

#include "common/json.hpp"

namespace mlnetpol::policy::eval {
namespace {

using json::json_member;
using json::json_string;
using value = rapidjson::Value;

std::string str(std::string_view s) {
  return std::string(s);
}

std::string_view member_name(const value::ConstMemberIterator& m) {
  return {m->name.GetString(), m->name.GetStringLength()};
}

// Cilium label keys carry a source prefix: `k8s:` and `any:` select Kubernetes labels; others
// (reserved:, cidr:, fqdn:, ...) are identities the evaluator does not model.
bool strip_source(std::string& key, bool cilium) {
  if (!cilium) return true;
  const auto colon = key.find(':');
  if (colon == std::string::npos) return true;
  const std::string_view source = std::string_view(key).substr(0, colon);
  if (source != "k8s" && source != "any") return false;
  key.erase(0, colon + 1);
  return true;
}

result<selector> parse_selector(const value* v, const std::string& at, bool cilium,
                                std::vector<std::string>& unsupported) {
  selector out;
  if (v == nullptr || v->IsNull()) return out;
  if (!v->IsObject()) return fail(at + ": not a label selector");
  for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
    const std::string_view name = member_name(m);
    if (name == "matchLabels") {
      if (m->value.IsNull()) continue;
      if (!m->value.IsObject()) return fail(at + ".matchLabels: not a map");
      for (auto l = m->value.MemberBegin(); l != m->value.MemberEnd(); ++l) {
        std::string key = str(member_name(l));
        if (!l->value.IsString()) return fail(at + ".matchLabels." + key + ": not a string");
        if (!strip_source(key, cilium)) {
          unsupported.push_back(at + ".matchLabels." + key);
          continue;
        }
        out.requirements.push_back({key, requirement::op::in, {str(json_string(&l->value))}});
      }
    } else if (name == "matchExpressions") {
      if (m->value.IsNull()) continue;
      if (!m->value.IsArray()) return fail(at + ".matchExpressions: not a list");
      std::size_t i = 0;
      for (const auto& e : m->value.GetArray()) {
        const std::string here = at + ".matchExpressions[" + std::to_string(i++) + "]";
        requirement r;
        r.key = str(json_string(json_member(&e, "key")));
        const std::string_view op = json_string(json_member(&e, "operator"));
        if (r.key.empty()) return fail(here + ".key: required");
        if (op == "In")
          r.operation = requirement::op::in;
        else if (op == "NotIn")
          r.operation = requirement::op::not_in;
        else if (op == "Exists")
          r.operation = requirement::op::exists;
        else if (op == "DoesNotExist")
          r.operation = requirement::op::does_not_exist;
        else
          return fail(here + ".operator: '" + str(op) +
                      "' is not In, NotIn, Exists or DoesNotExist");
        if (const value* vals = json_member(&e, "values"); vals != nullptr && vals->IsArray()) {
          for (const auto& x : vals->GetArray()) {
            if (!x.IsString()) return fail(here + ".values: not strings");
            r.values.push_back(str(json_string(&x)));
          }
        }
        if ((r.operation == requirement::op::in || r.operation == requirement::op::not_in) &&
            r.values.empty())
          return fail(here + ".values: required for " + str(op));
        if (!strip_source(r.key, cilium)) {
          unsupported.push_back(here);
          continue;
        }
        out.requirements.push_back(std::move(r));
      }
    } else {
      return fail(at + "." + str(name) + ": not a field of a label selector");
    }
  }
  return out;
}

result<protocol> parse_protocol(const value* v, const std::string& at, bool cilium) {
  const std::string_view p = json_string(v);
  if (v == nullptr || v->IsNull() || p == "TCP") return protocol::tcp;
  if (p == "UDP") return protocol::udp;
  if (p == "SCTP") return protocol::sctp;
  if (cilium && p == "ANY") return protocol::any;
  return fail(at + ": protocol '" + str(p) + "' is not TCP, UDP or SCTP" +
              (cilium ? " or ANY" : ""));
}

// A port: a number, or a name (NetworkPolicy: IANA_SVC_NAME); Cilium writes numbers as strings.
result<void> parse_port_value(const value* v, const std::string& at, port_rule& out) {
  if (v == nullptr || v->IsNull()) return {};
  if (v->IsInt()) {
    out.port = v->GetInt();
  } else if (v->IsString()) {
    const std::string_view s = json_string(v);
    bool digits = !s.empty() && s.size() <= 5;
    for (char c : s) digits = digits && c >= '0' && c <= '9';
    if (digits)
      out.port = std::stoi(str(s));
    else if (!s.empty() && s.size() <= 15)
      out.named = str(s);
    else
      return fail(at + ": '" + str(s) + "' is neither a port number nor a port name");
  } else {
    return fail(at + ": not a port");
  }
  if (out.named.empty() && (out.port < 0 || out.port > 65535))
    return fail(at + ": port " + std::to_string(out.port) + " out of range");
  return {};
}

result<cidr> parse_cidr_at(const value* v, const std::string& at) {
  const auto c = parse_cidr(json_string(v));
  if (!c) return fail(at + ": '" + str(json_string(v)) + "' is not a CIDR");
  return *c;
}

result<peer> parse_ip_block(const value* v, const std::string& at) {
  peer p;
  p.what = peer::kind::ip_block;
  auto block = parse_cidr_at(json_member(v, "cidr"), at + ".cidr");
  if (!block) return block.error();
  p.block = *block;
  p.text = block->text;
  if (const value* ex = json_member(v, "except"); ex != nullptr && ex->IsArray()) {
    std::size_t i = 0;
    for (const auto& e : ex->GetArray()) {
      auto c = parse_cidr_at(&e, at + ".except[" + std::to_string(i++) + "]");
      if (!c) return c.error();
      p.except.push_back(*c);
      p.text += (i == 1 ? " except " : ",") + c->text;
    }
  }
  return p;
}

// ---- NetworkPolicy ----

result<void> parse_np_rule(const value& r, const std::string& at, bool ingress,
                           const std::string& ns, rule& out) {
  out.path = at;
  const char* peers_key = ingress ? "from" : "to";
  const value* peers = json_member(&r, peers_key);
  out.all_peers = peers == nullptr || peers->IsNull() || (peers->IsArray() && peers->Empty());
  if (!out.all_peers) {
    if (!peers->IsArray()) return fail(at + "." + peers_key + ": not a list");
    std::size_t i = 0;
    for (const auto& p : peers->GetArray()) {
      const std::string here = at + "." + peers_key + "[" + std::to_string(i++) + "]";
      const value* ipb = json_member(&p, "ipBlock");
      const value* pods = json_member(&p, "podSelector");
      const value* nss = json_member(&p, "namespaceSelector");
      if (ipb != nullptr && !ipb->IsNull()) {
        if (pods != nullptr || nss != nullptr)
          return fail(here + ": ipBlock cannot be combined with a selector");
        auto b = parse_ip_block(ipb, here + ".ipBlock");
        if (!b) return b.error();
        out.peers.push_back(std::move(*b));
        continue;
      }
      if ((pods == nullptr || pods->IsNull()) && (nss == nullptr || nss->IsNull()))
        return fail(here + ": needs podSelector, namespaceSelector or ipBlock");
      peer q;
      q.what = peer::kind::pods;
      q.policy_namespace = ns;
      std::vector<std::string> none;
      if (pods != nullptr && !pods->IsNull()) {
        auto s = parse_selector(pods, here + ".podSelector", false, none);
        if (!s) return s.error();
        q.pod_selector = std::move(*s);
      }
      if (nss != nullptr && !nss->IsNull()) {
        auto s = parse_selector(nss, here + ".namespaceSelector", false, none);
        if (!s) return s.error();
        q.namespace_selector = std::move(*s);
      }
      q.text = (q.namespace_selector ? "namespaceSelector " + q.namespace_selector->text() : "") +
               (q.namespace_selector && q.pod_selector ? " and " : "") +
               (q.pod_selector ? "podSelector " + q.pod_selector->text() : "");
      out.peers.push_back(std::move(q));
    }
  }
  const value* ports = json_member(&r, "ports");
  out.all_ports = ports == nullptr || ports->IsNull() || (ports->IsArray() && ports->Empty());
  if (!out.all_ports) {
    if (!ports->IsArray()) return fail(at + ".ports: not a list");
    std::size_t i = 0;
    for (const auto& p : ports->GetArray()) {
      const std::string here = at + ".ports[" + std::to_string(i++) + "]";
      port_rule pr;
      auto proto = parse_protocol(json_member(&p, "protocol"), here + ".protocol", false);
      if (!proto) return proto.error();
      pr.proto = *proto;
      if (auto ok = parse_port_value(json_member(&p, "port"), here + ".port", pr); !ok)
        return ok.error();
      if (const value* e = json_member(&p, "endPort"); e != nullptr && !e->IsNull()) {
        if (!e->IsInt() || pr.port == 0 || !pr.named.empty() || e->GetInt() < pr.port)
          return fail(here + ".endPort: needs a numeric port not above it");
        pr.end_port = e->GetInt();
      }
      out.ports.push_back(std::move(pr));
    }
  }
  return {};
}

result<void> parse_network_policy(cluster& c, const value& object, const std::string& source) {
  const value* meta = json_member(&object, "metadata");
  const value* spec = json_member(&object, "spec");
  policy p;
  p.kind = policy_kind::network_policy;
  p.name = str(json_string(json_member(meta, "name")));
  p.namespace_name = str(json_string(json_member(meta, "namespace")));
  if (p.namespace_name.empty()) p.namespace_name = "default";
  p.source = source;
  const std::string at = source + ": NetworkPolicy " + p.namespace_name + "/" + p.name + ": spec";
  if (spec == nullptr || !spec->IsObject()) return fail(at + ": missing");
  std::vector<std::string> none;
  auto subject = parse_selector(json_member(spec, "podSelector"), at + ".podSelector", false, none);
  if (!subject) return subject.error();
  p.subject = std::move(*subject);
  const value* ingress = json_member(spec, "ingress");
  const value* egress = json_member(spec, "egress");
  const value* types = json_member(spec, "policyTypes");
  if (types != nullptr && types->IsArray() && !types->Empty()) {
    for (const auto& t : types->GetArray()) {
      const std::string_view s = json_string(&t);
      if (s == "Ingress")
        p.isolates_ingress = true;
      else if (s == "Egress")
        p.isolates_egress = true;
      else
        return fail(at + ".policyTypes: '" + str(s) + "' is not Ingress or Egress");
    }
  } else {
    // The API server's default: Ingress always, Egress when there are egress rules.
    p.isolates_ingress = true;
    p.isolates_egress = egress != nullptr && egress->IsArray() && !egress->Empty();
  }
  for (auto [list, is_ingress] : {std::pair{ingress, true}, std::pair{egress, false}}) {
    if (list == nullptr || list->IsNull()) continue;
    const std::string key = is_ingress ? "ingress" : "egress";
    if (!list->IsArray()) return fail(at + "." + key + ": not a list");
    std::size_t i = 0;
    for (const auto& r : list->GetArray()) {
      rule out;
      if (auto ok = parse_np_rule(r, "spec." + key + "[" + std::to_string(i++) + "]", is_ingress,
                                  p.namespace_name, out);
          !ok)
        return fail(at.substr(0, at.size() - 4) + ok.error().message);
      (is_ingress ? p.ingress : p.egress).push_back(std::move(out));
    }
  }
  // Rules of a direction the policy does not isolate are ignored by Kubernetes.
  if (!p.isolates_ingress) p.ingress.clear();
  if (!p.isolates_egress) p.egress.clear();
  c.policies.push_back(std::move(p));
  return {};
}

// ---- Cilium ----

bool mentions_namespace(const selector& s) {
  for (const auto& r : s.requirements)
    if (r.key == cilium_namespace_key) return true;
  return false;
}

result<entity> parse_entity(std::string_view e, const std::string& at) {
  if (e == "world" || e == "world-ipv4" || e == "world-ipv6") return entity::world;
  if (e == "cluster") return entity::cluster;
  if (e == "host") return entity::host;
  if (e == "remote-node") return entity::remote_node;
  if (e == "kube-apiserver") return entity::kube_apiserver;
  if (e == "all") return entity::all;
  return fail(at + ": entity '" + str(e) + "'");
}

result<void> parse_cilium_ports(const value* v, const std::string& at, rule& out,
                                std::vector<std::string>& unsupported) {
  if (v == nullptr || v->IsNull()) return {};
  if (!v->IsArray()) return fail(at + ": not a list");
  out.all_ports = false;
  std::size_t i = 0;
  for (const auto& pr : v->GetArray()) {
    const std::string here = at + "[" + std::to_string(i++) + "]";
    std::vector<std::string> dns;
    for (auto m = pr.MemberBegin(); m != pr.MemberEnd(); ++m) {
      const std::string_view name = member_name(m);
      if (name == "ports") continue;
      if (name == "rules") {
        for (auto r = m->value.MemberBegin(); r != m->value.MemberEnd(); ++r) {
          if (member_name(r) != "dns") {
            unsupported.push_back(here + ".rules." + str(member_name(r)));
            continue;
          }
          if (!r->value.IsArray()) return fail(here + ".rules.dns: not a list");
          for (const auto& d : r->value.GetArray()) {
            const std::string_view n = json_string(json_member(&d, "matchName"));
            const std::string_view p = json_string(json_member(&d, "matchPattern"));
            dns.push_back(str(n.empty() ? p : n));
          }
        }
        continue;
      }
      unsupported.push_back(here + "." + str(name));
    }
    const value* ports = json_member(&pr, "ports");
    if (ports == nullptr || !ports->IsArray() || ports->Empty()) {
      port_rule all;
      all.proto = protocol::any;
      all.dns = dns;
      out.ports.push_back(std::move(all));
      continue;
    }
    std::size_t j = 0;
    for (const auto& p : ports->GetArray()) {
      const std::string ph = here + ".ports[" + std::to_string(j++) + "]";
      port_rule r;
      auto proto = parse_protocol(json_member(&p, "protocol"), ph + ".protocol", true);
      if (!proto) return proto.error();
      r.proto = *proto;
      if (auto ok = parse_port_value(json_member(&p, "port"), ph + ".port", r); !ok)
        return ok.error();
      if (const value* e = json_member(&p, "endPort");
          e != nullptr && e->IsInt() && r.port > 0 && e->GetInt() >= r.port)
        r.end_port = e->GetInt();
      r.dns = dns;
      out.ports.push_back(std::move(r));
    }
  }
  return {};
}

result<void> parse_cilium_rule(const value& r, const std::string& at, bool ingress, bool deny,
                               const std::string& ns, rule& out,
                               std::vector<std::string>& unsupported) {
  out.path = at;
  const std::string dir = ingress ? "from" : "to";
  bool any_l3 = false;
  if (!r.IsObject()) return fail(at + ": not a rule");
  for (auto m = r.MemberBegin(); m != r.MemberEnd(); ++m) {
    const std::string name = str(member_name(m));
    const std::string here = at + "." + name;
    const value& v = m->value;
    if (name == "toPorts") {
      if (auto ok = parse_cilium_ports(&v, here, out, unsupported); !ok) return ok;
      continue;
    }
    if (!v.IsArray()) {
      if (name != "authentication" && name != "icmps") return fail(here + ": not a list");
    }
    if (name == dir + "Endpoints") {
      any_l3 = true;
      std::size_t i = 0;
      for (const auto& s : v.GetArray()) {
        auto sel = parse_selector(&s, here + "[" + std::to_string(i++) + "]", true, unsupported);
        if (!sel) return sel.error();
        peer p;
        p.what = peer::kind::pods;
        p.cilium = true;
        p.policy_namespace = mentions_namespace(*sel) ? "" : ns;
        p.text = "endpoints " + sel->text();
        p.pod_selector = std::move(*sel);
        out.peers.push_back(std::move(p));
      }
    } else if (name == dir + "Entities") {
      any_l3 = true;
      std::size_t i = 0;
      for (const auto& e : v.GetArray()) {
        const std::string eh = here + "[" + std::to_string(i++) + "]";
        auto ent = parse_entity(json_string(&e), eh);
        if (!ent) {
          unsupported.push_back(eh + " (" + str(json_string(&e)) + ")");
          continue;
        }
        peer p;
        p.what = peer::kind::entity;
        p.ent = *ent;
        p.text = "entity " + str(json_string(&e));
        out.peers.push_back(std::move(p));
      }
    } else if (name == dir + "CIDR") {
      any_l3 = true;
      std::size_t i = 0;
      for (const auto& e : v.GetArray()) {
        auto c = parse_cidr_at(&e, here + "[" + std::to_string(i++) + "]");
        if (!c) return c.error();
        peer p;
        p.what = peer::kind::ip_block;
        p.block = *c;
        p.text = "CIDR " + c->text;
        out.peers.push_back(std::move(p));
      }
    } else if (name == dir + "CIDRSet") {
      any_l3 = true;
      std::size_t i = 0;
      for (const auto& e : v.GetArray()) {
        const std::string eh = here + "[" + std::to_string(i++) + "]";
        if (json_member(&e, "cidr") == nullptr) {
          unsupported.push_back(eh + " (cidrGroupRef/cidrGroupSelector)");
          continue;
        }
        auto b = parse_ip_block(&e, eh);
        if (!b) return b.error();
        b->text = "CIDR " + b->text;
        out.peers.push_back(std::move(*b));
      }
    } else if (!ingress && !deny && name == "toFQDNs") {
      any_l3 = true;
      for (const auto& e : v.GetArray()) {
        peer p;
        p.what = peer::kind::fqdn;
        const std::string_view n = json_string(json_member(&e, "matchName"));
        const std::string_view pat = json_string(json_member(&e, "matchPattern"));
        p.fqdn = str(n.empty() ? pat : n);
        p.fqdn_pattern = n.empty();
        p.text = (n.empty() ? "matchPattern " : "matchName ") + p.fqdn;
        out.peers.push_back(std::move(p));
      }
    } else if (!ingress && name == "toServices") {
      any_l3 = true;
      std::size_t i = 0;
      for (const auto& e : v.GetArray()) {
        const std::string eh = here + "[" + std::to_string(i++) + "]";
        const value* svc = json_member(&e, "k8sService");
        if (svc == nullptr) {
          unsupported.push_back(eh + " (k8sServiceSelector)");
          continue;
        }
        peer p;
        p.what = peer::kind::service;
        p.service_name = str(json_string(json_member(svc, "serviceName")));
        p.service_namespace = str(json_string(json_member(svc, "namespace")));
        if (p.service_namespace.empty()) p.service_namespace = ns;
        p.text = "service " + p.service_namespace + "/" + p.service_name;
        out.peers.push_back(std::move(p));
      }
    } else {
      unsupported.push_back(here);
    }
  }
  // No L3 peer: with toPorts every peer on those ports; an empty rule ({}) allows nothing.
  out.all_peers = !any_l3 && !out.all_ports;
  return {};
}

result<void> parse_cilium_spec(cluster& c, const value& spec, policy p, const std::string& at) {
  std::vector<std::string>& unsupported = p.unsupported;
  bool has[4] = {false, false, false, false};
  bool default_deny_ingress = true, default_deny_egress = true;
  for (auto m = spec.MemberBegin(); m != spec.MemberEnd(); ++m) {
    const std::string name = str(member_name(m));
    const std::string here = at + "." + name;
    if (name == "endpointSelector") {
      auto s = parse_selector(&m->value, here, true, unsupported);
      if (!s) return s.error();
      p.subject = std::move(*s);
    } else if (name == "ingress" || name == "egress" || name == "ingressDeny" ||
               name == "egressDeny") {
      if (m->value.IsNull()) continue;
      if (!m->value.IsArray()) return fail(here + ": not a list");
      const bool ingress = name.rfind("ingress", 0) == 0;
      const bool deny = name.size() > 6 && name.substr(name.size() - 4) == "Deny";
      has[(ingress ? 0 : 1) + (deny ? 2 : 0)] = true;
      auto& list =
          deny ? (ingress ? p.ingress_deny : p.egress_deny) : (ingress ? p.ingress : p.egress);
      std::size_t i = 0;
      for (const auto& r : m->value.GetArray()) {
        rule out;
        const std::string rpath = "spec." + name + "[" + std::to_string(i++) + "]";
        if (auto ok =
                parse_cilium_rule(r, rpath, ingress, deny, p.namespace_name, out, unsupported);
            !ok)
          return fail(at.substr(0, at.size() - 4) + ok.error().message);
        list.push_back(std::move(out));
      }
    } else if (name == "enableDefaultDeny") {
      if (const value* i = json_member(&m->value, "ingress"); i != nullptr && i->IsBool())
        default_deny_ingress = i->GetBool();
      if (const value* e = json_member(&m->value, "egress"); e != nullptr && e->IsBool())
        default_deny_egress = e->GetBool();
    } else if (name == "description" || name == "labels") {
      // Metadata: no effect on traffic.
    } else {
      unsupported.push_back("spec." + name);
    }
  }
  // Cilium: a policy with an ingress (or ingressDeny) section puts the endpoint into default deny
  // for that direction unless enableDefaultDeny says otherwise.
  p.isolates_ingress = (has[0] || has[2]) && default_deny_ingress;
  p.isolates_egress = (has[1] || has[3]) && default_deny_egress;
  c.policies.push_back(std::move(p));
  return {};
}

result<void> parse_cilium_policy(cluster& c, const value& object, const std::string& source,
                                 bool clusterwide) {
  const value* meta = json_member(&object, "metadata");
  policy p;
  p.kind = clusterwide ? policy_kind::cilium_clusterwide : policy_kind::cilium;
  p.name = str(json_string(json_member(meta, "name")));
  if (!clusterwide) {
    p.namespace_name = str(json_string(json_member(meta, "namespace")));
    if (p.namespace_name.empty()) p.namespace_name = "default";
  }
  p.source = source;
  const std::string at = source + ": " + str(to_string(p.kind)) + " " +
                         (clusterwide ? "" : p.namespace_name + "/") + p.name + ": spec";
  const value* spec = json_member(&object, "spec");
  const value* specs = json_member(&object, "specs");
  if (spec != nullptr && spec->IsObject()) {
    if (json_member(spec, "nodeSelector") != nullptr) {
      p.unsupported.push_back("spec.nodeSelector (host policy)");
      c.policies.push_back(std::move(p));
      return {};
    }
    if (auto ok = parse_cilium_spec(c, *spec, p, at); !ok) return ok;
  }
  if (specs != nullptr && specs->IsArray()) {
    std::size_t i = 0;
    for (const auto& s : specs->GetArray()) {
      policy each = p;
      each.name += "[specs " + std::to_string(i) + "]";
      if (!s.IsObject()) return fail(at + "s[" + std::to_string(i) + "]: not an object");
      if (auto ok = parse_cilium_spec(c, s, each, at + "s[" + std::to_string(i) + "]"); !ok)
        return ok;
      ++i;
    }
  }
  if ((spec == nullptr || !spec->IsObject()) && (specs == nullptr || !specs->IsArray()))
    return fail(at + ": missing");
  return {};
}

// ---- Namespaces and Pods ----

result<void> parse_labels(const value* meta, const std::string& at, label_map& out) {
  const value* labels = json_member(meta, "labels");
  if (labels == nullptr || labels->IsNull()) return {};
  if (!labels->IsObject()) return fail(at + ": metadata.labels: not a map");
  for (auto m = labels->MemberBegin(); m != labels->MemberEnd(); ++m) {
    if (!m->value.IsString())
      return fail(at + ": metadata.labels." + str(member_name(m)) + ": not a string");
    out[str(member_name(m))] = str(json_string(&m->value));
  }
  return {};
}

result<void> parse_namespace(cluster& c, const value& object, const std::string& source) {
  const value* meta = json_member(&object, "metadata");
  namespace_info ns;
  ns.name = str(json_string(json_member(meta, "name")));
  if (ns.name.empty()) return fail(source + ": Namespace without metadata.name");
  if (auto ok = parse_labels(meta, source + ": Namespace " + ns.name, ns.labels); !ok) return ok;
  ns.labels["kubernetes.io/metadata.name"] = ns.name;  // the API server sets it on every namespace
  c.namespaces.push_back(std::move(ns));
  return {};
}

result<void> parse_pod(cluster& c, const value& object, const std::string& source) {
  const value* meta = json_member(&object, "metadata");
  pod p;
  p.name = str(json_string(json_member(meta, "name")));
  p.namespace_name = str(json_string(json_member(meta, "namespace")));
  if (p.namespace_name.empty()) p.namespace_name = "default";
  if (p.name.empty()) return fail(source + ": Pod without metadata.name");
  const std::string at = source + ": Pod " + p.namespace_name + "/" + p.name;
  if (auto ok = parse_labels(meta, at, p.labels); !ok) return ok;
  const value* containers = json_member(json_member(&object, "spec"), "containers");
  if (containers != nullptr && containers->IsArray()) {
    for (const auto& ct : containers->GetArray()) {
      const value* ports = json_member(&ct, "ports");
      if (ports == nullptr || !ports->IsArray()) continue;
      for (const auto& pt : ports->GetArray()) {
        container_port cp;
        cp.name = str(json_string(json_member(&pt, "name")));
        const value* n = json_member(&pt, "containerPort");
        if (n == nullptr || !n->IsInt()) return fail(at + ": containerPort: not a number");
        cp.port = n->GetInt();
        auto proto = parse_protocol(json_member(&pt, "protocol"), at + ": protocol", false);
        if (!proto) return proto.error();
        cp.proto = *proto;
        p.ports.push_back(std::move(cp));
      }
    }
  }
  p.ip = str(json_string(json_member(json_member(&object, "status"), "podIP")));
  c.pods.push_back(std::move(p));
  return {};
}

}  // namespace

result<bool> add_object(cluster& c, const rapidjson::Value& object, const std::string& source) {
  const std::string_view api = json_string(json_member(&object, "apiVersion"));
  const std::string_view kind = json_string(json_member(&object, "kind"));
  result<void> ok;
  if (api == "v1" && kind == "Namespace")
    ok = parse_namespace(c, object, source);
  else if (api == "v1" && kind == "Pod")
    ok = parse_pod(c, object, source);
  else if (api == "networking.k8s.io/v1" && kind == "NetworkPolicy")
    ok = parse_network_policy(c, object, source);
  else if (api.rfind("cilium.io/", 0) == 0 && kind == "CiliumNetworkPolicy")
    ok = parse_cilium_policy(c, object, source, false);
  else if (api.rfind("cilium.io/", 0) == 0 && kind == "CiliumClusterwideNetworkPolicy")
    ok = parse_cilium_policy(c, object, source, true);
  else
    return false;
  if (!ok) return ok.error();
  return true;
}

result<label_map> parse_label_list(std::string_view text) {
  label_map out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const auto eq = item.find('=');
    if (eq == 0 || eq == std::string_view::npos)
      return fail("'" + str(item) + "' is not key=value");
    out[str(item.substr(0, eq))] = str(item.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace mlnetpol::policy::eval
