#include "policy/eval/matrix.hpp"

#include <map>
#include <tuple>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policy/inference.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::policy::eval {
namespace {

// What a selector or a named port can see of a pod.
using group_key =
    std::tuple<std::string, label_map, std::vector<std::tuple<std::string, int, int>>>;

group_key key_of(const pod& p) {
  std::vector<std::tuple<std::string, int, int>> ports;
  for (const auto& cp : p.ports) ports.emplace_back(cp.name, cp.port, static_cast<int>(cp.proto));
  return {p.namespace_name, p.labels, std::move(ports)};
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
  std::vector<std::vector<const policy*>> egress(g), ingress(g);
  for (std::size_t k = 0; k < g; ++k) {
    egress[k] = ev.selecting(endpoints[representative[k]], false);
    ingress[k] = ev.selecting(endpoints[representative[k]], true);
  }
  std::vector<char> verdict(g * g);
  for (std::size_t a = 0; a < g; ++a) {
    for (std::size_t b = 0; b < g; ++b) {
      const query q{endpoints[representative[a]], endpoints[representative[b]], port, proto};
      verdict[a * g + b] = ev.allowed(q, egress[a], ingress[b]) ? 1 : 0;
    }
  }
  m.allowed.resize(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) m.allowed[i * n + j] = verdict[group[i] * g + group[j]];
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
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto put = [&w](const std::string& s) {
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("port");
  w.Int(m.port);
  w.Key("protocol");
  put(std::string(to_string(m.proto)));
  w.Key("pods");
  w.StartArray();
  for (const auto& name : m.names) put(name);
  w.EndArray();
  w.Key("matrix");
  w.StartObject();
  for (std::size_t i = 0; i < m.names.size(); ++i) {
    w.Key(m.names[i].c_str(), static_cast<rapidjson::SizeType>(m.names[i].size()));
    w.StartObject();
    for (std::size_t j = 0; j < m.names.size(); ++j) {
      w.Key(m.names[j].c_str(), static_cast<rapidjson::SizeType>(m.names[j].size()));
      w.Bool(m.at(i, j));
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
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
