#pragma once
// `hubble observe -o json` lines judged against a set of policies: which connections the set would
// drop, grouped by source namespace and workload type, destination and port, with counts and the
// smallest change that would allow each group. Pure: lines in, a summary out.
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/config.hpp"
#include "policy/eval/model.hpp"
#include "policy/eval/report.hpp"

namespace mlnetpol::policy::eval {

// One side of a flow as Hubble names it.
struct flow_end {
  std::string namespace_name, pod_name;  // pods only
  label_map labels;                      // k8s: labels of the pod, without the prefix
  label_map namespace_labels;            // from k8s:io.cilium.k8s.namespace.labels.*
  std::string reserved;                  // world, host, remote-node, kube-apiserver, health, ...
  std::string ip;
  std::string name;  // the first DNS name (destination_names / source_names)
  std::string service_name, service_namespace;
};

struct flow {
  flow_end from, to;
  int port = 0;
  protocol proto = protocol::tcp;
};

enum class flow_skip { none, not_a_flow, reply, l7, no_port, malformed };
// One line; `why` says why it is not judged (replies, L7 records, ICMP, other stream messages).
flow_skip parse_flow_line(std::string_view line, flow& out);

struct dropped_group {
  std::string from;  // "training (workload-type=training)"
  std::string to;    // "database pods app=postgres", "s3.amazonaws.com", "203.0.113.0/32"
  std::string port;  // "TCP/5432"
  std::size_t count = 0;
  std::string example;  // one connection as explain would name it
  std::string where;    // "egress of training/trainer-0", "ingress of ..."
  std::vector<fix> fixes;
};

struct flow_summary {
  std::size_t lines = 0, judged = 0, dropped = 0;
  std::map<std::string, std::size_t> skipped;  // reason -> lines
  std::vector<dropped_group> groups;           // most flows first
};

class flow_judge {
 public:
  // base: the policies (and any namespaces/pods) enforce would apply; cfg (may be null) the
  // configuration they were rendered from (for fixes and the workload-type label key).
  flow_judge(cluster base, const config* cfg);
  void add_line(std::string_view line);
  flow_summary finish();

 private:
  cluster base_;
  const config* cfg_;
  flow_summary summary_;
  // key -> (the first flow with it, count); judged once per key, in key order.
  std::unordered_map<std::string, std::pair<flow, std::size_t>> distinct_;
};

std::string flow_summary_text(const flow_summary& s);

}  // namespace mlnetpol::policy::eval
