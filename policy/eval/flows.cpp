#include "policy/eval/flows.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <climits>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "policy/eval/evaluate.hpp"
#include "policy/inference.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::policy::eval {
namespace {

std::string str(std::string_view s) {
  return std::string(s);
}

constexpr std::string_view k8s_prefix = "k8s:";

// One label of a Hubble endpoint ("k8s:app=db", "reserved:world") into `out`.
void add_label(std::string_view s, flow_end& out) {
  if (s.rfind("reserved:", 0) == 0) {
    // A pod's identity can carry reserved:init etc.; the first reserved label names a non-pod.
    if (out.reserved.empty()) out.reserved = str(s.substr(9));
    return;
  }
  if (s.rfind(k8s_prefix, 0) != 0) return;
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

// Reads the fields `flows` needs while RapidJSON's reader validates the line, without building a
// document (one pass, no allocation per value; the iterative parser does not recurse, so nesting
// costs heap, not stack). A member counts at its first occurrence, as FindMember on a document
// reads it; a member of the wrong type reads as absent.
class flow_line_reader
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, flow_line_reader> {
 public:
  explicit flow_line_reader(flow& out) : out_(out) {}

  // What was read; valid once the reader accepted the whole line.
  flow_skip result() {
    if (!root_object_) return flow_skip::malformed;
    if (!flow_object_) return flow_skip::not_a_flow;
    if (reply_) return flow_skip::reply;
    if (l7_) return flow_skip::l7;
    int chosen = -1;  // the last of TCP, UDP, SCTP present decides, as the lookup order did
    for (int i = 0; i < 3; ++i)
      if (proto_present_[i]) chosen = i;
    if (chosen < 0 || !port_[chosen]) return flow_skip::no_port;
    out_.proto = protos[chosen];
    out_.port = *port_[chosen];
    for (flow_end* e : {&out_.from, &out_.to})
      if (!e->name.empty() && e->name.back() == '.') e->name.pop_back();
    return flow_skip::none;
  }

  bool Null() { return scalar(); }
  bool Bool(bool b) {
    const slot s = take();
    if ((s == slot::is_reply || s == slot::reply) && b) reply_ = true;
    return true;
  }
  // A port reads only when it fits an int (rapidjson::Value::IsInt).
  bool Int(int i) { return number(i, true); }
  bool Uint(unsigned u) { return number(static_cast<int>(u), u <= INT_MAX); }
  bool Int64(std::int64_t i) { return number(static_cast<int>(i), i >= INT_MIN && i <= INT_MAX); }
  bool Uint64(std::uint64_t u) { return number(static_cast<int>(u), u <= INT_MAX); }
  bool Double(double) { return scalar(); }
  bool String(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view v(text, length);
    const int frame_side = ignore_ == 0 && depth_ > 0 ? top().side : 0;
    const int key_side = pending_side();
    const slot s = take();
    // IP names the side by its key; an endpoint, its labels and names by the enclosing member.
    flow_end& end = (s == slot::ip_address ? key_side : frame_side) == 0 ? out_.from : out_.to;
    switch (s) {
      case slot::type:
        l7_ = v == "L7";
        break;
      case slot::ip_address:
        end.ip = str(v);
        break;
      case slot::end_namespace:
        end.namespace_name = str(v);
        break;
      case slot::end_pod:
        end.pod_name = str(v);
        break;
      case slot::label:
        add_label(v, end);
        break;
      case slot::first_name:
        end.name = str(v);
        break;
      case slot::service_name:
        end.service_name = str(v);
        break;
      case slot::service_namespace:
        end.service_namespace = str(v);
        break;
      default:
        break;
    }
    return true;
  }
  bool StartObject() { return open(true); }
  bool StartArray() { return open(false); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    if (ignore_ > 0) return true;
    frame& f = top();
    f.pending = slot::none;
    const std::string_view k(text, length);
    slot s = slot::none;
    int side = f.side;
    switch (f.what) {
      case context::root:
        if (k == "flow") s = slot::flow;
        break;
      case context::flow:
        if (k == "is_reply") s = slot::is_reply;
        else if (k == "reply") s = slot::reply;
        else if (k == "Type") s = slot::type;
        else if (k == "l4") s = slot::l4;
        else if (k == "IP") s = slot::ip;
        else if (k == "source" || k == "destination") s = slot::end;
        else if (k == "source_names" || k == "destination_names") s = slot::names;
        else if (k == "source_service" || k == "destination_service") s = slot::service;
        side = k.rfind("destination", 0) == 0 ? 1 : 0;
        break;
      case context::l4:
        for (int i = 0; i < 3; ++i)
          if (k == proto_names[i]) s = slot::proto, side = i;
        break;
      case context::proto:
        if (k == "destination_port") s = slot::port;
        break;
      case context::ip:
        if (k == "source" || k == "destination") s = slot::ip_address;
        side = k == "destination" ? 1 : 0;
        break;
      case context::end:
        if (k == "namespace") s = slot::end_namespace;
        else if (k == "pod_name") s = slot::end_pod;
        else if (k == "labels") s = slot::labels;
        break;
      case context::service:
        if (k == "name") s = slot::service_name;
        else if (k == "namespace") s = slot::service_namespace;
        break;
      default:
        break;
    }
    if (s == slot::none) return true;
    // One bit per (context, slot, side): only the first occurrence of a member is read.
    const unsigned bit = (static_cast<unsigned>(f.what) * 32 + static_cast<unsigned>(s)) * 3 +
                         static_cast<unsigned>(side);
    if (seen_[bit]) return true;
    seen_[bit] = true;
    f.pending = s;
    f.pending_side = side;
    return true;
  }

 private:
  enum class context : std::uint8_t { root, flow, l4, proto, ip, end, labels, names, service };
  enum class slot : std::uint8_t {
    none, flow, is_reply, reply, type, l4, ip, end, names, service, proto, port, ip_address,
    end_namespace, end_pod, labels, label, first_name, service_name, service_namespace,
  };
  struct frame {
    context what = context::root;
    int side = 0;  // source 0 / destination 1; TCP 0, UDP 1, SCTP 2 for a port
    slot pending = slot::none;  // what the value after the current key is
    int pending_side = 0;
    std::size_t elements = 0;  // arrays: values seen so far
  };
  static constexpr std::array<const char*, 3> proto_names{"TCP", "UDP", "SCTP"};
  static constexpr std::array<protocol, 3> protos{protocol::tcp, protocol::udp, protocol::sctp};
  static constexpr std::size_t max_depth = 4;  // root, flow, l4 or an endpoint, its port or labels

  frame& top() { return stack_[depth_ - 1]; }

  // The slot the value now starting fills (none when nothing reads it); an array element's slot
  // comes from the array.
  slot take() {
    if (ignore_ > 0 || depth_ == 0) return slot::none;
    frame& f = top();
    if (f.what == context::labels) return ++f.elements, slot::label;
    if (f.what == context::names) return f.elements++ == 0 ? slot::first_name : slot::none;
    if (f.what == context::root || f.what == context::flow || f.what == context::l4 ||
        f.what == context::proto || f.what == context::ip || f.what == context::end ||
        f.what == context::service) {
      const slot s = f.pending;
      f.pending = slot::none;
      // l4.TCP of any type counts as present (its port then reads as absent unless an object).
      if (s == slot::proto) proto_present_[f.pending_side] = true;
      return s;
    }
    return slot::none;
  }
  int pending_side() const { return depth_ == 0 ? 0 : stack_[depth_ - 1].pending_side; }

  bool scalar() {
    take();
    return true;
  }
  bool number(int value, bool fits) {
    const int side = pending_side();
    if (take() == slot::port && fits) port_[side] = value;
    return true;
  }
  bool open(bool object) {
    if (ignore_ > 0) return ++ignore_, true;
    if (depth_ == 0) {
      if (!object) return ++ignore_, true;
      root_object_ = true;
      return push(context::root, 0);
    }
    const int side = pending_side();
    const slot s = take();
    if (object) {
      switch (s) {
        case slot::flow:
          flow_object_ = true;
          return push(context::flow, 0);
        case slot::l4:
          return push(context::l4, 0);
        case slot::proto:
          return push(context::proto, side);
        case slot::ip:
          return push(context::ip, 0);
        case slot::end:
          return push(context::end, side);
        case slot::service:
          return push(context::service, side);
        default:
          break;
      }
    } else if (s == slot::labels) {
      return push(context::labels, top().side);
    } else if (s == slot::names) {
      return push(context::names, side);
    }
    return ++ignore_, true;
  }
  bool push(context what, int side) {
    if (depth_ == max_depth) return ++ignore_, true;
    stack_[depth_++] = frame{what, side};
    return true;
  }
  bool close() {
    if (ignore_ > 0) return --ignore_, true;
    if (depth_ > 0) --depth_;
    return true;
  }

  flow& out_;
  std::array<frame, max_depth> stack_{};
  std::size_t depth_ = 0;
  std::size_t ignore_ = 0;  // depth inside a value nothing reads
  std::bitset<9 * 32 * 3> seen_;
  bool root_object_ = false, flow_object_ = false, reply_ = false, l7_ = false;
  std::array<bool, 3> proto_present_{};
  std::array<std::optional<int>, 3> port_{};
};

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
  flow_line_reader handler(out);
  rapidjson::MemoryStream bytes(line.data(), line.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
  rapidjson::Reader reader;
  if (reader.Parse<rapidjson::kParseIterativeFlag>(in, handler).IsError())
    return flow_skip::malformed;
  return handler.result();
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
  // In key order, as before the table was hashed: which flow names a group follows from it.
  std::vector<const std::pair<const std::string, std::pair<flow, std::size_t>>*> ordered;
  ordered.reserve(distinct_.size());
  for (const auto& entry : distinct_) ordered.push_back(&entry);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : ordered) {
    add_pod(entry->second.first.from);
    add_pod(entry->second.first.to);
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
  for (const auto* distinct : ordered) {
    const auto& entry = distinct->second;
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
