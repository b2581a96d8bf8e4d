#include "policy/eval/flows.hpp"

#include <algorithm>
#include <unordered_map>

#include <rapidjson/document.h>

#include "common/json.hpp"
#include "policy/eval/evaluate.hpp"
#include "policy/inference.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::policy::eval {
namespace {

using json::json_member;
using json::json_string;
using value = rapidjson::Value;

std::string str(std::string_view s) {
  return std::string(s);
}

constexpr std::string_view k8s_prefix = "k8s:";

void read_end(const value* endpoint, const value* ip, const value* names, const value* service,
              flow_end& out) {
  out.namespace_name = str(json_string(json_member(endpoint, "namespace")));
  out.pod_name = str(json_string(json_member(endpoint, "pod_name")));
  out.ip = str(json_string(ip));
  if (names != nullptr && names->IsArray() && !names->Empty()) {
    out.name = str(json_string(&(*names)[0]));
    if (!out.name.empty() && out.name.back() == '.') out.name.pop_back();
  }
  out.service_name = str(json_string(json_member(service, "name")));
  out.service_namespace = str(json_string(json_member(service, "namespace")));
  const value* labels = json_member(endpoint, "labels");
  if (labels == nullptr || !labels->IsArray()) return;
  for (const auto& l : labels->GetArray()) {
    const std::string_view s = json_string(&l);
    if (s.rfind("reserved:", 0) == 0) {
      // A pod's identity can carry reserved:init etc.; the first reserved label names a non-pod.
      if (out.reserved.empty()) out.reserved = str(s.substr(9));
      continue;
    }
    if (s.rfind(k8s_prefix, 0) != 0) continue;
    const std::string_view kv = s.substr(k8s_prefix.size());
    const auto eq = kv.find('=');
    const std::string key = str(kv.substr(0, eq));
    const std::string val = eq == std::string_view::npos ? "" : str(kv.substr(eq + 1));
    if (key.rfind(cilium_namespace_label_prefix, 0) == 0) {
      out.namespace_labels[key.substr(cilium_namespace_label_prefix.size())] = val;
    } else if (key != cilium_namespace_key && key.rfind("io.cilium.k8s.", 0) != 0) {
      out.labels[key] = val;
    }
  }
}

std::string labels_text(const label_map& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (k == "pod-template-hash" || k == "controller-revision-hash" ||
        k == "statefulset.kubernetes.io/pod-name" || k == "apps.kubernetes.io/pod-index")
      continue;
    out += (out.empty() ? "" : ",") + k + "=" + v;
  }
  return out.empty() ? "(no labels)" : out;
}

std::string key_of(const flow_end& e) {
  std::string k = e.namespace_name + "|" + e.reserved + "|" + labels_text(e.labels) + "|" +
                  labels_text(e.namespace_labels) + "|" + e.service_namespace + "/" +
                  e.service_name + "|" + e.name;
  // Pods are told apart by labels; places outside by address and name.
  if (e.pod_name.empty()) k += "|" + e.ip;
  return k;
}

}  // namespace

flow_skip parse_flow_line(std::string_view line, flow& out) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject()) return flow_skip::malformed;
  const value* f = json_member(&d, "flow");
  if (f == nullptr || !f->IsObject()) return flow_skip::not_a_flow;
  const value* is_reply = json_member(f, "is_reply");
  const value* reply = json_member(f, "reply");
  if ((is_reply != nullptr && is_reply->IsBool() && is_reply->GetBool()) ||
      (reply != nullptr && reply->IsBool() && reply->GetBool()))
    return flow_skip::reply;
  if (json_string(json_member(f, "Type")) == "L7") return flow_skip::l7;
  const value* l4 = json_member(f, "l4");
  const value* port = nullptr;
  for (auto [name, proto] : {std::pair{"TCP", protocol::tcp}, std::pair{"UDP", protocol::udp},
                             std::pair{"SCTP", protocol::sctp}}) {
    if (const value* p = json_member(l4, name)) {
      port = json_member(p, "destination_port");
      out.proto = proto;
    }
  }
  if (port == nullptr || !port->IsInt()) return flow_skip::no_port;
  out.port = port->GetInt();
  const value* ip = json_member(f, "IP");
  read_end(json_member(f, "source"), json_member(ip, "source"), json_member(f, "source_names"),
           json_member(f, "source_service"), out.from);
  read_end(json_member(f, "destination"), json_member(ip, "destination"),
           json_member(f, "destination_names"), json_member(f, "destination_service"), out.to);
  return flow_skip::none;
}

flow_judge::flow_judge(cluster base, const config* cfg) : base_(std::move(base)), cfg_(cfg) {}

void flow_judge::add_line(std::string_view line) {
  if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  ++summary_.lines;
  flow f;
  switch (parse_flow_line(line, f)) {
    case flow_skip::none:
      break;
    case flow_skip::not_a_flow:
      ++summary_.skipped["not a flow (node status, lost events)"];
      return;
    case flow_skip::reply:
      ++summary_.skipped["replies (judged with the connection that opened them)"];
      return;
    case flow_skip::l7:
      ++summary_.skipped["L7 records (their L3/L4 flow is judged)"];
      return;
    case flow_skip::no_port:
      ++summary_.skipped["without a TCP/UDP/SCTP port (ICMP)"];
      return;
    case flow_skip::malformed:
      ++summary_.skipped["not JSON"];
      return;
  }
  if (f.from.reserved == "health" || f.to.reserved == "health") {
    ++summary_.skipped["Cilium health checks"];
    return;
  }
  ++summary_.judged;
  const std::string key = key_of(f.from) + "->" + key_of(f.to) + "|" +
                          std::string(to_string(f.proto)) + std::to_string(f.port);
  auto [it, added] = distinct_.try_emplace(key, f, 0);
  ++it->second.second;
}

flow_summary flow_judge::finish() {
  // Pods as the flows show them, one per distinct identity, and their namespaces' labels.
  std::unordered_map<std::string, std::size_t> known_ns;
  for (std::size_t i = 0; i < base_.namespaces.size(); ++i) known_ns[base_.namespaces[i].name] = i;
  auto add_namespace = [&](const flow_end& e) {
    auto [it, added] = known_ns.try_emplace(e.namespace_name, base_.namespaces.size());
    if (added) base_.namespaces.push_back({e.namespace_name, {}});
    auto& labels = base_.namespaces[it->second].labels;
    for (const auto& [k, v] : e.namespace_labels) labels.emplace(k, v);
    labels.emplace("kubernetes.io/metadata.name", e.namespace_name);
    if (cfg_ == nullptr) return;
    // The labels mlnetpol's namespace webhook sets once enforce applies.
    const namespace_roles roles = roles_of(*cfg_, e.namespace_name);
    if (roles.secured || roles.ml()) labels.emplace(secured_label, "true");
    if (roles.platform) labels.emplace(platform_label, "true");
    if (roles.tenant) labels.emplace(tenant_label, "true");
    if (roles.training) labels.emplace(training_label, "true");
    if (roles.inference) labels.emplace(inference_label, "true");
    if (const auto type = namespace_workload_type(roles)) labels.emplace(cfg_->label_key, *type);
  };
  std::map<std::string, std::size_t> pod_index;  // identity key -> base_.pods index
  auto add_pod = [&](const flow_end& e) {
    if (e.pod_name.empty() || e.namespace_name.empty()) return;
    add_namespace(e);
    const std::string k = key_of(e);
    if (pod_index.count(k) != 0) return;
    pod p;
    p.namespace_name = e.namespace_name;
    p.name = e.pod_name;
    p.labels = e.labels;
    pod_index[k] = base_.pods.size();
    base_.pods.push_back(std::move(p));
  };
  for (const auto& [key, entry] : distinct_) {
    add_pod(entry.first.from);
    add_pod(entry.first.to);
  }
  const evaluator ev(base_);
  auto to_endpoint = [&](const flow_end& e) {
    endpoint out;
    if (!e.pod_name.empty() && !e.namespace_name.empty()) {
      out = ev.pod_endpoint(base_.pods[pod_index.at(key_of(e))]);
    } else if (e.reserved == "host") {
      out.special = entity::host;
    } else if (e.reserved == "remote-node") {
      out.special = entity::remote_node;
    } else if (e.reserved == "kube-apiserver") {
      out.special = entity::kube_apiserver;
    }
    out.ip = parse_ip(e.ip);
    if (out.ip) out.ip_text = e.ip;
    out.host = e.name;
    out.service_name = e.service_name;
    out.service_namespace = e.service_namespace;
    return out;
  };
  const std::string type_key = cfg_ != nullptr ? cfg_->label_key : "workload-type";
  std::map<std::string, std::size_t> group_index;
  for (const auto& [key, entry] : distinct_) {
    const flow& f = entry.first;
    const query q{to_endpoint(f.from), to_endpoint(f.to), f.port, f.proto};
    const answer a = ev.explain(q);
    if (a.allowed) continue;
    summary_.dropped += entry.second;
    std::string from = f.from.namespace_name.empty() ? q.from.text() : f.from.namespace_name;
    if (!f.from.namespace_name.empty()) {
      const auto t = f.from.labels.find(type_key);
      from += t == f.from.labels.end() ? " (no " + type_key + ")"
                                       : " (" + type_key + "=" + t->second + ")";
    }
    std::string to;
    if (!f.to.pod_name.empty())
      to = f.to.namespace_name + " pods " + labels_text(f.to.labels);
    else if (!f.to.name.empty())
      to = f.to.name;
    else if (q.to.special)
      to = q.to.text();
    else if (q.to.ip)
      to = f.to.ip + (q.to.ip->v6 ? "/128" : "/32");
    else
      to = q.to.text();
    const std::string port = std::string(to_string(f.proto)) + "/" + std::to_string(f.port);
    const std::string gk = from + "\n" + to + "\n" + port;
    auto [it, added] = group_index.try_emplace(gk, summary_.groups.size());
    if (added) {
      dropped_group g;
      g.from = from;
      g.to = to;
      g.port = port;
      g.example = connection_text(q);
      g.where = !a.egress.allowed ? "egress of " + q.from.text() : "ingress of " + q.to.text();
      if (!a.egress.allowed && !a.ingress.allowed) g.where += " and ingress of " + q.to.text();
      g.fixes = suggest_fixes(q, a, cfg_);
      summary_.groups.push_back(std::move(g));
    }
    summary_.groups[it->second].count += entry.second;
  }
  std::stable_sort(
      summary_.groups.begin(), summary_.groups.end(),
      [](const dropped_group& a, const dropped_group& b) { return a.count > b.count; });
  return summary_;
}

std::string flow_summary_text(const flow_summary& s) {
  std::string out = "read " + std::to_string(s.lines) + " lines: " + std::to_string(s.judged) +
                    " flows judged, " + std::to_string(s.dropped) + " would be dropped\n";
  for (const auto& [why, n] : s.skipped)
    out += "  skipped " + std::to_string(n) + ": " + why + "\n";
  for (const auto& g : s.groups) {
    out += "\nDROP " + std::to_string(g.count) + (g.count == 1 ? " flow: " : " flows: ") + g.from +
           " -> " + g.to + " " + g.port + "\n";
    out += "  e.g. " + g.example + "; denied at the " + g.where + "\n";
    std::string fixes = fixes_text(g.fixes);
    std::size_t start = 0;
    while (start < fixes.size()) {
      const auto nl = fixes.find('\n', start);
      out += "  " + fixes.substr(start, nl - start) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  return out;
}

}  // namespace mlnetpol::policy::eval
