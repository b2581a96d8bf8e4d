#include "policy/eval/matrix.hpp"

#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policy/inference.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::policy::eval {
namespace {

// What a named port can see of a pod, and what a selector or a named port can see.
using port_key = std::tuple<std::string, int, int>;
using group_key = std::tuple<std::string, label_map, std::vector<port_key>>;

std::vector<port_key> ports_of(const pod& p) {
  std::vector<port_key> ports;
  for (const auto& cp : p.ports) ports.emplace_back(cp.name, cp.port, static_cast<int>(cp.proto));
  return ports;
}

group_key key_of(const pod& p) {
  return {p.namespace_name, p.labels, ports_of(p)};
}

std::string dot_id(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

matrix compute_matrix(const evaluator& ev, const std::vector<endpoint>& endpoints, int port,
                      protocol proto) {
  matrix m;
  m.port = port;
  m.proto = proto;
  const std::size_t n = endpoints.size();
  std::vector<std::size_t> group(n);
  std::vector<std::size_t> representative;
  std::map<group_key, std::size_t> by_key;
  for (std::size_t i = 0; i < n; ++i) {
    m.names.push_back(endpoints[i].text());
    if (endpoints[i].p == nullptr) {
      group[i] = representative.size();
      representative.push_back(i);
      continue;
    }
    auto [it, added] = by_key.emplace(key_of(*endpoints[i].p), representative.size());
    if (added) representative.push_back(i);
    group[i] = it->second;
  }
  const std::size_t g = representative.size();
  m.groups = g;
  // A connection needs the source's egress and the destination's ingress. Each direction depends
  // on one end's policies and the other end only (and on the destination's named ports), so it is
  // judged once per distinct set of policies against every group, and a group no policy selects
  // for that direction allows everything there without a verdict.
  const std::vector<const policy*> none;
  using set_key = std::pair<std::vector<const policy*>, std::vector<port_key>>;
  std::map<set_key, std::size_t> egress_sets, ingress_sets;
  std::vector<std::size_t> egress_of(g), ingress_of(g);
  std::vector<std::vector<char>> egress_allows, ingress_allows;  // [set][other group]
  auto judge = [&](const std::vector<const policy*>& set, std::size_t k, bool ingress) {
    std::vector<char> row(g);
    for (std::size_t other = 0; other < g; ++other) {
      const endpoint& self = endpoints[representative[k]];
      const endpoint& peer = endpoints[representative[other]];
      const query q = ingress ? query{peer, self, port, proto} : query{self, peer, port, proto};
      row[other] = (ingress ? ev.allowed(q, none, set) : ev.allowed(q, set, none)) ? 1 : 0;
    }
    return row;
  };
  for (std::size_t k = 0; k < g; ++k) {
    for (const bool ingress : {false, true}) {
      const endpoint& e = endpoints[representative[k]];
      set_key key{ev.selecting(e, ingress), {}};
      if (ingress && !key.first.empty()) key.second = ports_of(*e.p);
      auto& sets = ingress ? ingress_sets : egress_sets;
      auto& tables = ingress ? ingress_allows : egress_allows;
      auto [it, added] = sets.try_emplace(std::move(key), tables.size());
      if (added) tables.push_back(it->first.first.empty() ? std::vector<char>(g, 1)
                                                          : judge(it->first.first, k, ingress));
      (ingress ? ingress_of : egress_of)[k] = it->second;
    }
  }
  m.allowed.resize(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::vector<char>& out = egress_allows[egress_of[group[i]]];
    for (std::size_t j = 0; j < n; ++j)
      m.allowed[i * n + j] = out[group[j]] & ingress_allows[ingress_of[group[j]]][group[i]];
  }
  return m;
}

std::string matrix_text(const matrix& m) {
  std::string out = "-";
  for (const auto& name : m.names) out += "\t" + name;
  out += "\n";
  for (std::size_t i = 0; i < m.names.size(); ++i) {
    out += m.names[i];
    for (std::size_t j = 0; j < m.names.size(); ++j) out += m.at(i, j) ? "\t." : "\tX";
    out += "\n";
  }
  return out;
}

std::string matrix_markdown(const matrix& m) {
  std::string out = "| from \\ to |";
  std::string rule = "|---|";
  for (const auto& name : m.names) {
    out += " " + name + " |";
    rule += ":---:|";
  }
  out += "\n" + rule + "\n";
  for (std::size_t i = 0; i < m.names.size(); ++i) {
    out += "| " + m.names[i] + " |";
    for (std::size_t j = 0; j < m.names.size(); ++j) out += m.at(i, j) ? " ✓ |" : " ✗ |";
    out += "\n";
  }
  return out;
}

std::string matrix_json(const matrix& m) {
  // Each name is escaped once by the JSON writer and the table is assembled from those pieces:
  // the bytes a writer emits for every key, without escaping n² keys (4 M for 2,000 pods).
  auto quoted = [](std::string_view s) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return std::string(buffer.GetString(), buffer.GetSize());
  };
  std::vector<std::string> names;
  std::size_t names_size = 0;
  for (const auto& name : m.names) {
    names.push_back(quoted(name));
    names_size += names.back().size();
  }
  std::string out = "{\"port\":" + std::to_string(m.port) +
                    ",\"protocol\":" + quoted(to_string(m.proto)) + ",\"pods\":[";
  out.reserve(out.size() + names_size * (m.names.size() + 2) +
              m.names.size() * m.names.size() * 7 + 64);
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
  out += "],\"matrix\":{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += ":{";
    for (std::size_t j = 0; j < names.size(); ++j) {
      if (j) out += ',';
      out += names[j];
      out += m.at(i, j) ? ":true" : ":false";
    }
    out += '}';
  }
  out += "}}\n";
  return out;
}

std::string matrix_dot(const matrix& m) {
  std::string out =
      "digraph allowed {\n  rankdir=LR;\n  node [shape=box];\n  label=" +
      dot_id("allowed on " + std::string(to_string(m.proto)) + "/" + std::to_string(m.port)) +
      ";\n";
  for (const auto& name : m.names) out += "  " + dot_id(name) + ";\n";
  for (std::size_t i = 0; i < m.names.size(); ++i)
    for (std::size_t j = 0; j < m.names.size(); ++j)
      if (i != j && m.at(i, j))
        out += "  " + dot_id(m.names[i]) + " -> " + dot_id(m.names[j]) + ";\n";
  return out + "}\n";
}

cluster sample_cluster(const config& cfg) {
  cluster c;
  auto add_namespace = [&](const std::string& ns) {
    for (const auto& existing : c.namespaces)
      if (existing.name == ns) return;
    namespace_info info{ns, {{"kubernetes.io/metadata.name", ns}}};
    const namespace_roles roles = roles_of(cfg, ns);
    // The labels the namespace webhook sets (policy/engine.cpp plan_namespace).
    if (roles.secured || roles.ml()) info.labels[std::string(secured_label)] = "true";
    if (roles.platform) info.labels[std::string(platform_label)] = "true";
    if (roles.tenant) info.labels[std::string(tenant_label)] = "true";
    if (roles.training) info.labels[std::string(training_label)] = "true";
    if (roles.inference) info.labels[std::string(inference_label)] = "true";
    if (const auto type = namespace_workload_type(roles))
      info.labels[cfg.label_key] = std::string(*type);
    c.namespaces.push_back(std::move(info));
  };
  auto add_pod = [&](const std::string& ns, const std::string& name, label_map labels) {
    add_namespace(ns);
    pod p;
    p.namespace_name = ns;
    p.name = name;
    p.labels = std::move(labels);
    c.pods.push_back(std::move(p));
  };
  for (const auto& ns : policy_namespaces(cfg)) {
    const namespace_roles roles = roles_of(cfg, ns);
    if (roles.training) add_pod(ns, "training", {{cfg.label_key, std::string(training_value)}});
    if (roles.inference) add_pod(ns, "inference", {{cfg.label_key, std::string(inference_value)}});
    if (roles.platform && !cfg.platform_pod_selector_key.empty())
      add_pod(ns, "platform", {{cfg.platform_pod_selector_key, ns}});
    if (!roles.ml()) add_pod(ns, "app", {});
  }
  add_pod("kube-system", "kube-dns", {{"k8s-app", "kube-dns"}});
  for (const auto& ns : cfg.ingress_controller_namespaces) add_pod(ns, "controller", {});
  for (const auto& peer : cfg.ingress_controller_pods)
    add_pod(peer.namespace_name, "ingress-controller",
            label_map(peer.match_labels.begin(), peer.match_labels.end()));
  add_pod(cfg.monitoring_namespace, "prometheus", {{"app.kubernetes.io/name", "prometheus"}});
  add_pod("default", "unsecured", {});
  return c;
}

std::vector<endpoint> sample_destinations(const config& cfg) {
  std::vector<endpoint> out;
  endpoint api;
  api.special = entity::kube_apiserver;
  // Standard mode names the API server by address: take one inside the configured CIDRs.
  std::string api_ip = "172.20.0.1";
  if (!cfg.api_server_cidrs.empty()) {
    const std::string& first = cfg.api_server_cidrs.front();
    api_ip = first.substr(0, first.find('/'));
  }
  api.ip = parse_ip(api_ip);
  api.ip_text = api_ip;
  out.push_back(api);
  for (const auto& [host, ip] : std::vector<std::pair<const char*, const char*>>{
           {"my-bucket.s3.us-east-1.amazonaws.com", "52.216.1.10"},
           {"123456789012.dkr.ecr.us-east-1.amazonaws.com", "52.94.1.10"},
           {"sts.amazonaws.com", "52.94.2.10"},
           {"monitoring.us-east-1.amazonaws.com", "52.94.3.10"},
           {"example.com", "93.184.216.34"}}) {
    endpoint e;
    e.host = host;
    e.ip = parse_ip(ip);
    e.ip_text = ip;
    out.push_back(e);
  }
  return out;
}

}  // namespace mlnetpol::policy::eval
