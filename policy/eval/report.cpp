#include "policy/eval/report.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policy/namespaces.hpp"

namespace mlnetpol::policy::eval {
namespace {

std::string policy_name(const policy& p) {
  return std::string(to_string(p.kind)) + " " +
         (p.namespace_name.empty() ? "" : p.namespace_name + "/") + p.name;
}

std::string port_text(const query& q) {
  return q.port == 0 ? std::string(to_string(q.proto)) + "/(any port)"
                     : std::string(to_string(q.proto)) + "/" + std::to_string(q.port);
}

void direction_text(std::string& out, const char* title, const endpoint& side,
                    const direction_answer& d) {
  out += std::string(title) + " of " + side.text() + ": ";
  if (!d.evaluated) {
    out += "not judged (outside the pod network; no policy of the cluster applies)\n";
    return;
  }
  out += std::string(d.isolated ? "isolated" : "not isolated") + ", " +
         (d.allowed ? "allowed" : "denied") + "\n";
  if (d.policies.empty()) out += "  no policy selects it\n";
  for (const auto& p : d.policies) {
    const std::string name = policy_name(*p.pol);
    switch (p.eff) {
      case policy_answer::effect::allows:
        out += "  allowed by " + name + " " + p.rule + "\n";
        break;
      case policy_answer::effect::denies:
        out += "  DENIED by " + name + " " + p.rule + " (a deny rule wins over every allow)\n";
        break;
      case policy_answer::effect::not_selected:
        break;
      case policy_answer::effect::no_match:
        if (p.rule.empty()) {
          out += "  " + name + " isolates it; " +
                 (p.mismatches.empty() ? std::string("no rule matches") : p.mismatches[0]) + "\n";
        } else {
          out += "  " + name + " does not allow it; nearest rule " + p.rule + ":\n";
          for (const auto& m : p.mismatches) out += "      " + m + "\n";
        }
        break;
    }
    for (const auto& n : p.notes) out += "      note: " + n + "\n";
  }
  for (const auto& p : d.not_selecting) {
    out += "  " + policy_name(*p.pol) + " " + p.rule + " would allow it but does not select " +
           side.text() + ": " + p.mismatches[0] + "\n";
  }
  for (const auto& u : d.unsupported) out += "  not modelled, the verdict may differ: " + u + "\n";
}

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(writer& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

void strings(writer& w, const char* key, const std::vector<std::string>& list) {
  w.Key(key);
  w.StartArray();
  for (const auto& s : list) put(w, s);
  w.EndArray();
}

void direction_json(writer& w, const direction_answer& d) {
  w.StartObject();
  w.Key("isolated");
  w.Bool(d.isolated);
  w.Key("allowed");
  w.Bool(d.allowed);
  w.Key("policies");
  w.StartArray();
  std::vector<const policy_answer*> all;
  for (const auto& p : d.policies) all.push_back(&p);
  for (const auto& p : d.not_selecting) all.push_back(&p);
  for (const policy_answer* entry : all) {
    const policy_answer& p = *entry;
    w.StartObject();
    w.Key("kind");
    put(w, std::string(to_string(p.pol->kind)));
    w.Key("namespace");
    put(w, p.pol->namespace_name);
    w.Key("name");
    put(w, p.pol->name);
    w.Key("effect");
    w.String(p.eff == policy_answer::effect::allows         ? "allows"
             : p.eff == policy_answer::effect::denies       ? "denies"
             : p.eff == policy_answer::effect::not_selected ? "does-not-select"
                                                            : "isolates");
    w.Key("rule");
    put(w, p.rule);
    strings(w, "mismatches", p.mismatches);
    strings(w, "notes", p.notes);
    strings(w, "unsupported", p.pol->unsupported);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// Labels that name one pod or one revision: a selector for "pods like this one" leaves them out.
bool stable_label(const std::string& key) {
  return key != "pod-template-hash" && key != "controller-revision-hash" &&
         key != "statefulset.kubernetes.io/pod-name" && key != "apps.kubernetes.io/pod-index" &&
         key != "batch.kubernetes.io/controller-uid" && key != "controller-uid";
}

std::string yaml_labels(const label_map& labels, const std::string& indent) {
  std::string out;
  for (const auto& [k, v] : labels)
    if (stable_label(k)) out += indent + k + ": \"" + v + "\"\n";
  return out.empty() ? "" : out;
}

std::string selector_yaml(const std::string& key, const label_map& labels,
                          const std::string& indent) {
  const std::string body = yaml_labels(labels, indent + "    ");
  if (body.empty()) return indent + key + ": {}\n";
  return indent + key + ":\n" + indent + "  matchLabels:\n" + body;
}

// The peer as a NetworkPolicy peer (list item at `indent`), or "" when NetworkPolicy cannot name
// it.
std::string np_peer(const endpoint& e, const std::string& indent) {
  if (e.p != nullptr) {
    return indent + "- namespaceSelector:\n" + indent + "    matchLabels:\n" + indent +
           "      kubernetes.io/metadata.name: \"" + e.p->namespace_name + "\"\n" +
           selector_yaml("podSelector", e.p->labels, indent + "  ");
  }
  if (e.ip) {
    return indent + "- ipBlock:\n" + indent + "    cidr: " + e.ip_text +
           (e.ip->v6 ? "/128" : "/32") + "\n";
  }
  return "";
}

std::string np_ports(const query& q, const std::string& indent) {
  if (q.port == 0) return "";
  return indent + "ports:\n" + indent + "- protocol: " + std::string(to_string(q.proto)) + "\n" +
         indent + "  port: " + std::to_string(q.port) + "\n";
}

std::string service_guess(const endpoint& to) {
  if (!to.service_name.empty()) return to.service_name;
  for (const char* key : {"app.kubernetes.io/name", "app"}) {
    const auto it = to.p->labels.find(key);
    if (it != to.p->labels.end()) return it->second;
  }
  return to.p->name;
}

std::string ns_of(const endpoint& e) {
  return e.p != nullptr ? e.p->namespace_name : e.service_namespace;
}

// A policy that would allow it if it selected the pod: the pod lacks its labels.
bool label_fix(const endpoint& side, const direction_answer& d, std::vector<fix>& out) {
  if (d.not_selecting.empty() || side.p == nullptr) return false;
  const auto& p = d.not_selecting.front();
  out.push_back({"give " + side.text() + " the labels " + policy_name(*p.pol) + " selects (" +
                     p.pol->subject.text() + "), e.g. in its pod template",
                 ""});
  return true;
}

void egress_fix(const query& q, const answer& a, const config* cfg, std::vector<fix>& out) {
  const endpoint& from = q.from;
  const endpoint& to = q.to;
  for (const auto& p : a.egress.policies)
    if (p.eff == policy_answer::effect::denies)
      out.push_back(
          {"remove or narrow the deny rule " + p.rule + " of " + policy_name(*p.pol), ""});
  if (!out.empty() || !a.egress.isolated) return;
  if (label_fix(from, a.egress, out)) return;
  const namespace_roles roles =
      cfg != nullptr ? roles_of(*cfg, from.p->namespace_name) : namespace_roles{};
  if (cfg != nullptr && !to.host.empty() && (roles.training || roles.inference)) {
    const char* list = roles.training ? "training_egress_fqdns" : "inference_egress_fqdns";
    out.push_back({std::string("add \"") + to.host + "\" to " + list +
                       (cfg->cilium_mode ? ""
                                         : " (standard mode allows TCP 443 to public addresses "
                                           "only; FQDNs need cilium_mode)"),
                   std::string(list) + ":\n  - \"" + to.host + "\"\n"});
    return;
  }
  if (cfg != nullptr && roles.inference && (!to.service_name.empty() || to.p != nullptr) &&
      ns_of(to) != from.p->namespace_name) {
    const std::string svc = service_guess(to);
    out.push_back({"add the Service " + ns_of(to) + "/" + svc + " to inference_allowed_services",
                   "inference_allowed_services:\n  - k8sService:\n      serviceName: \"" + svc +
                       "\"\n      namespace: \"" + ns_of(to) + "\"\n"});
    return;
  }
  std::string peer = np_peer(to, "    ");
  if (peer.empty() && !to.host.empty()) {
    out.push_back(
        {"NetworkPolicy cannot name a host; a CiliumNetworkPolicy of the namespace's own "
         "(with a DNS rule so Cilium learns the name's addresses)",
         "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: "
         "allow-egress-fqdn\n  namespace: " +
             from.p->namespace_name + "\nspec:\n" +
             selector_yaml("endpointSelector", from.p->labels, "  ") +
             "  egress:\n  - toFQDNs:\n    - matchName: \"" + to.host +
             "\"\n    toPorts:\n    - ports:\n      - port: \"" +
             std::to_string(q.port == 0 ? 443 : q.port) +
             "\"\n        protocol: " + std::string(to_string(q.proto)) + "\n"});
    return;
  }
  if (peer.empty()) {
    out.push_back(
        {"allow egress to " + to.text() + " with a policy of " + from.p->namespace_name +
             "'s own (NetworkPolicy cannot name it; a CiliumNetworkPolicy toEntities can)",
         ""});
    return;
  }
  out.push_back({"apply a NetworkPolicy of " + from.p->namespace_name + "'s own",
                 "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: "
                 "allow-egress\n  namespace: " +
                     from.p->namespace_name + "\nspec:\n" +
                     selector_yaml("podSelector", from.p->labels, "  ") +
                     "  policyTypes: [Egress]\n  egress:\n  - to:\n" + peer + np_ports(q, "    ")});
}

void ingress_fix(const query& q, const answer& a, std::vector<fix>& out) {
  const endpoint& to = q.to;
  std::size_t before = out.size();
  for (const auto& p : a.ingress.policies)
    if (p.eff == policy_answer::effect::denies)
      out.push_back(
          {"remove or narrow the deny rule " + p.rule + " of " + policy_name(*p.pol), ""});
  if (out.size() != before || !a.ingress.isolated) return;
  if (label_fix(to, a.ingress, out)) return;
  std::string peer = np_peer(q.from, "    ");
  if (peer.empty()) {
    out.push_back({"allow ingress from " + q.from.text() + " with a policy of " +
                       to.p->namespace_name + "'s own",
                   ""});
    return;
  }
  out.push_back(
      {"apply a NetworkPolicy of " + to.p->namespace_name + "'s own",
       "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: "
       "allow-ingress\n  namespace: " +
           to.p->namespace_name + "\nspec:\n" + selector_yaml("podSelector", to.p->labels, "  ") +
           "  policyTypes: [Ingress]\n  ingress:\n  - from:\n" + peer + np_ports(q, "    ")});
}

}  // namespace

std::string connection_text(const query& q) {
  return q.from.text() + " -> " + q.to.text() + " " + port_text(q);
}

std::string answer_text(const query& q, const answer& a) {
  std::string out =
      std::string(a.allowed ? "ALLOWED" : "DENIED") + ": " + connection_text(q) + "\n";
  if (q.port == 0) out += "(no --port: rules' ports were not checked)\n";
  direction_text(out, "egress", q.from, a.egress);
  direction_text(out, "ingress", q.to, a.ingress);
  return out;
}

std::string answer_json(const answer& a) {
  rapidjson::StringBuffer buffer;
  writer w(buffer);
  w.StartObject();
  w.Key("allowed");
  w.Bool(a.allowed);
  w.Key("egress");
  direction_json(w, a.egress);
  w.Key("ingress");
  direction_json(w, a.ingress);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::vector<fix> suggest_fixes(const query& q, const answer& a, const config* cfg) {
  std::vector<fix> out;
  if (a.egress.evaluated && !a.egress.allowed) egress_fix(q, a, cfg, out);
  if (a.ingress.evaluated && !a.ingress.allowed) ingress_fix(q, a, out);
  return out;
}

std::string fixes_text(const std::vector<fix>& fixes) {
  if (fixes.empty()) return "";
  std::string out = "to allow it:\n";
  for (const auto& f : fixes) {
    out += "  - " + f.what + "\n";
    if (f.yaml.empty()) continue;
    std::size_t start = 0;
    while (start < f.yaml.size()) {
      const auto nl = f.yaml.find('\n', start);
      out += "      " + f.yaml.substr(start, nl - start) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  return out;
}

}  // namespace mlnetpol::policy::eval
