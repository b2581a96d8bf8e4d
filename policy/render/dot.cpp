// render_dot: the allowed flows of the rendered policies as a Graphviz digraph.
#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "policy/namespaces.hpp"
#include "policy/render/model.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::policy {
namespace {

using render::peer;
using render::peer_kind;
using render::pod_group;
using render::policy_model;
using render::port;
using render::protocol;
using render::rule;

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string group_label(const pod_group& g) {
  if (!g.exists_key.empty()) return "pods with " + g.exists_key;
  if (g.match_labels.empty()) return "all pods";
  std::string out;
  for (const auto& [k, v] : g.match_labels) {
    if (!out.empty()) out += "\n";
    out += k + "=" + v;
  }
  return out;
}

std::string group_id(const pod_group& g) {
  return "pods/" + g.namespace_name + "/" + group_label(g);
}

std::string ports_label(const std::vector<port>& ports, bool dns_l7) {
  if (ports.empty()) return "any port";
  std::string tcp, any;
  for (const port& p : ports) {
    std::string& list = p.proto == protocol::any ? any : tcp;
    if (!list.empty()) list += ",";
    list += std::to_string(p.number);
  }
  std::string out;
  if (!tcp.empty()) out += "TCP " + tcp;
  if (!any.empty()) out += std::string(out.empty() ? "" : " ") + "UDP/TCP " + any;
  if (dns_l7) out += " (DNS proxy)";
  return out;
}

struct graph {
  // namespace -> node id -> label
  std::map<std::string, std::map<std::string, std::string>> ns_nodes;
  std::vector<std::string> ns_order;
  std::map<std::string, std::string> external;  // node id -> attributes
  std::vector<std::string> external_order;
  std::set<std::string> edge_keys;
  std::vector<std::string> edges;

  void pods_node(const pod_group& g) {
    if (!ns_nodes.count(g.namespace_name)) ns_order.push_back(g.namespace_name);
    ns_nodes[g.namespace_name][group_id(g)] = group_label(g);
  }
  void external_node(const std::string& id, const std::string& attributes) {
    if (!external.count(id)) external_order.push_back(id);
    external[id] = attributes;
  }
  void edge(const std::string& from, const std::string& to, const std::string& label,
            bool minor = false) {
    const std::string k = from + "\x1f" + to + "\x1f" + label;
    if (!edge_keys.insert(k).second) return;
    // Minor edges (DNS, drawn for every namespace) stay unlabelled and do not shape the layout;
    // the legend says what they are.
    edges.push_back("  " + quoted(from) + " -> " + quoted(to) +
                    (minor ? " [style=dashed, color=\"#999999\", constraint=false];"
                           : " [label=" + quoted(label) + "];"));
  }
};

// The node a peer stands for (adding it to the graph).
std::string peer_node(graph& g, const peer& p, const config& cfg) {
  switch (p.kind) {
    case peer_kind::pods:
      g.pods_node(p.pods);
      return group_id(p.pods);
    case peer_kind::kube_dns: {
      pod_group dns{"kube-system", {{"k8s-app", "kube-dns"}}, {}};
      g.pods_node(dns);
      return group_id(dns);
    }
    case peer_kind::api_server: {
      const std::string id = "kube-apiserver" + (p.cidr.empty() ? "" : " " + p.cidr);
      g.external_node(id, "shape=component, style=filled, fillcolor=\"#dae8fc\"");
      return id;
    }
    case peer_kind::fqdns: {
      std::string label = "FQDN";
      for (const auto& n : p.names) label += "\n" + n;
      g.external_node(label, "shape=note, style=filled, fillcolor=\"#fff2cc\", fontsize=9");
      return label;
    }
    case peer_kind::service: {
      const std::string id = "Service " + p.service.namespace_name + "/" + p.service.service_name;
      g.external_node(id, "shape=cds, style=filled, fillcolor=\"#e1d5e7\"");
      return id;
    }
    case peer_kind::cidr: {
      std::string id = "addresses " + p.cidr;
      if (!p.except.empty()) {
        id += "\nexcept";
        for (const auto& e : p.except) id += " " + e;
      }
      g.external_node(id, "shape=ellipse, style=filled, fillcolor=\"#f5f5f5\"");
      return id;
    }
    case peer_kind::anywhere:
      g.external_node("any address", "shape=ellipse, style=filled, fillcolor=\"#f8cecc\"");
      return "any address";
  }
  return {};
}

}  // namespace

std::string render_dot(const config& cfg, std::string_view only_namespace) {
  const auto models = render::build_models(cfg, only_namespace);
  graph g;
  // Which namespaces are default deny in which direction for every pod.
  std::map<std::string, std::pair<bool, bool>> all_pods_deny;
  const namespace_index index(cfg);
  for (const auto& ns : index.policy_namespaces()) {
    if (only_namespace.empty() || ns == only_namespace) {
      g.ns_order.push_back(ns);
      g.ns_nodes[ns];
    }
  }
  // DNS is drawn once per namespace when every pod may use it (fewer crossing lines).
  std::set<std::string> all_pods_dns;
  for (const policy_model& m : models) {
    if (!m.selector.match_labels.empty() || !m.selector.exists_key.empty()) continue;
    for (const rule& r : m.egress) {
      if (!r.peers.empty() && r.peers.front().kind == peer_kind::kube_dns) {
        all_pods_dns.insert(m.namespace_name);
      }
    }
  }
  for (const policy_model& m : models) {
    g.pods_node(m.selector);
    const bool all_pods = m.selector.match_labels.empty() && m.selector.exists_key.empty();
    if (all_pods) {
      auto& deny = all_pods_deny[m.namespace_name];
      deny.first = deny.first || m.ingress_type;
      deny.second = deny.second || m.egress_type;
    }
    const std::string self = group_id(m.selector);
    for (const rule& r : m.egress) {
      const std::string label = r.what + "\n" + ports_label(r.ports, r.dns_l7);
      const bool dns = !r.peers.empty() && r.peers.front().kind == peer_kind::kube_dns;
      if (dns && !all_pods && all_pods_dns.count(m.namespace_name)) continue;
      for (const peer& p : r.peers) g.edge(self, peer_node(g, p, cfg), label, dns);
    }
    for (const rule& r : m.ingress) {
      const std::string label = r.what + "\n" + ports_label(r.ports, r.dns_l7);
      for (const peer& p : r.peers) g.edge(peer_node(g, p, cfg), self, label);
    }
  }

  std::string out;
  out += "digraph mlnetpol {\n";
  out += "  rankdir=LR;\n  compound=true;\n  newrank=true;\n";
  out += "  fontname=\"Helvetica\";\n";
  out +=
      "  node [fontname=\"Helvetica\", fontsize=10, shape=box, style=\"rounded,filled\", "
      "fillcolor=\"#d5e8d4\"];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#2d6a2d\"];\n";
  out += "  label=" +
         quoted(std::string("mlnetpol: allowed flows (") +
                (cfg.cilium_mode ? "CiliumNetworkPolicy" : "NetworkPolicy") +
                "); everything else is denied in red namespaces") +
         ";\n  labelloc=t;\n";
  std::size_t cluster = 0;
  for (const auto& ns : g.ns_order) {
    const auto deny = all_pods_deny[ns];
    const namespace_roles roles = index.roles(ns);
    std::string roles_text;
    auto add_role = [&](bool on, const char* name) {
      if (!on) return;
      roles_text += roles_text.empty() ? "" : ", ";
      roles_text += name;
    };
    add_role(roles.platform, "platform");
    add_role(roles.tenant, "tenant");
    add_role(roles.training, "training");
    add_role(roles.inference, "inference");
    std::string label = "namespace " + ns;
    if (!roles_text.empty()) label += " (" + roles_text + ")";
    std::string style;
    if (deny.first || deny.second) {
      label += std::string("\nDEFAULT DENY: ") + (deny.first && deny.second ? "ingress + egress"
                                                  : deny.first              ? "ingress"
                                                                            : "egress");
      style = "style=\"rounded,bold\", color=\"#b85450\", penwidth=2, bgcolor=\"#fdf1f0\"";
    } else if (!roles_text.empty()) {
      label += "\nonly the selected pods are default deny";
      style = "style=\"rounded,dashed\", color=\"#b85450\"";
    } else {
      label += "\nnot secured by mlnetpol";
      style = "style=\"rounded,dashed\", color=\"#999999\"";
    }
    out += "  subgraph cluster_" + std::to_string(cluster++) + " {\n";
    out += "    graph [label=" + quoted(label) + ", " + style + "];\n";
    const auto& nodes = g.ns_nodes[ns];
    if (nodes.empty()) {
      // Keep the namespace visible even when nothing is drawn inside it.
      out +=
          "    " + quoted("pods/" + ns + "/") + " [label=\"(no pods selected)\", style=invis];\n";
    }
    for (const auto& [id, node_label] : nodes) {
      out += "    " + quoted(id) + " [label=" + quoted(node_label) + "];\n";
    }
    out += "  }\n";
  }
  for (const auto& id : g.external_order) {
    out += "  " + quoted(id) + " [" + g.external.at(id) + "];\n";
  }
  for (const auto& e : g.edges) out += e + "\n";
  std::string legend = "dashed grey: DNS to kube-dns, UDP/TCP 53";
  if (cfg.cilium_mode) legend += " through the DNS proxy";
  legend += "\nedge labels: why, then the ports allowed";
  out += "  legend [shape=note, style=filled, fillcolor=\"#ffffff\", fontsize=9, label=" +
         quoted(legend) + "];\n";
  out += "}\n";
  return out;
}

}  // namespace mlnetpol::policy
