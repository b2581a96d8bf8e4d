#pragma once
// The evaluator's model of a cluster: namespaces, pods and the policies that select them
// (NetworkPolicy v1, CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy), as plain values. Parsing
// from Kubernetes JSON is in policy/eval/parse.hpp; the verdicts in policy/eval/evaluate.hpp.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlnetpol::policy::eval {

using label_map = std::map<std::string, std::string, std::less<>>;

enum class protocol { tcp, udp, sctp, any };
std::string_view to_string(protocol p);
// "TCP", "UDP" or "SCTP" (the --protocol flag); nullopt for anything else.
std::optional<protocol> parse_protocol_name(std::string_view name);

// One address, IPv4 or IPv6 (an IPv4 address is kept as is, not mapped).
struct ip_address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const ip_address&, const ip_address&) = default;
};
struct cidr {
  ip_address base;
  int prefix = 0;
  std::string text;  // as written, for answers
  bool contains(const ip_address& a) const;
};
std::optional<ip_address> parse_ip(std::string_view text);
std::optional<cidr> parse_cidr(std::string_view text);

// A label selector: matchLabels become `In` with one value. An empty selector matches every set.
struct requirement {
  enum class op { in, not_in, exists, does_not_exist };
  std::string key;
  op operation = op::in;
  std::vector<std::string> values;
};
struct selector {
  std::vector<requirement> requirements;
  bool matches(const label_map& labels) const;
  // What does not match, for answers ("app=db is missing", "tier in (web) but is api"); "" when
  // it matches.
  std::string mismatch(const label_map& labels) const;
  std::string text() const;  // "app=db,tier in (a,b)" or "{}" for the empty selector
};

struct container_port {
  std::string name;
  int port = 0;
  protocol proto = protocol::tcp;
};

struct namespace_info {
  std::string name;
  label_map labels;  // kubernetes.io/metadata.name is always present
};

struct pod {
  std::string namespace_name;
  std::string name;
  label_map labels;
  std::vector<container_port> ports;
  std::string ip;  // status.podIP, may be empty
};

// Cilium entities (what fromEntities/toEntities name).
enum class entity { world, cluster, host, remote_node, kube_apiserver, all };

// A peer of a rule. Exactly one kind is set.
struct peer {
  enum class kind {
    pods,      // NetworkPolicy podSelector/namespaceSelector, Cilium from/toEndpoints
    ip_block,  // NetworkPolicy ipBlock, Cilium from/toCIDR(Set)
    entity,    // Cilium from/toEntities
    fqdn,      // Cilium toFQDNs
    service,   // Cilium toServices k8sService
  };
  kind what = kind::pods;
  // pods: NetworkPolicy keeps the two selectors; Cilium one selector over the pod's labels plus
  // io.kubernetes.pod.namespace and io.cilium.k8s.namespace.labels.* (see cilium_labels()).
  bool cilium = false;
  std::optional<selector> pod_selector;
  std::optional<selector> namespace_selector;
  std::string policy_namespace;  // NetworkPolicy: a bare podSelector means this namespace; Cilium:
                                 // a selector without the namespace key is limited to it ("" for
                                 // clusterwide)
  std::optional<cidr> block;
  std::vector<cidr> except;
  entity ent = entity::world;
  std::string fqdn;  // matchName or matchPattern (a pattern has `*`)
  bool fqdn_pattern = false;
  std::string service_name, service_namespace;
  std::string text;  // as written, for answers
};

struct port_rule {
  protocol proto = protocol::tcp;
  int port = 0;  // 0: every port of the protocol
  std::string named;
  int end_port = 0;
  std::vector<std::string> dns;  // Cilium rules.dns patterns (L7 DNS filter on this port)
  std::string text() const;
};

struct rule {
  std::string path;         // "spec.ingress[0]"
  bool all_peers = false;   // no from/to: every peer
  std::vector<peer> peers;  // any of them
  bool all_ports = true;    // no ports: every port
  std::vector<port_rule> ports;
};

enum class policy_kind { network_policy, cilium, cilium_clusterwide };
std::string_view to_string(policy_kind k);

struct policy {
  policy_kind kind = policy_kind::network_policy;
  std::string namespace_name;  // "" for clusterwide
  std::string name;
  std::string source;  // where it was read from (file#doc, "live", "--config")
  // Which pods it selects: NetworkPolicy podSelector / Cilium endpointSelector (Cilium form).
  selector subject;
  bool isolates_ingress = false, isolates_egress = false;
  std::vector<rule> ingress, egress;
  std::vector<rule> ingress_deny, egress_deny;
  // Fields present that the evaluator does not model ("spec.ingress[0].fromRequires"): answers
  // name them, so a verdict they could change is never taken on trust.
  std::vector<std::string> unsupported;
};

struct cluster {
  std::vector<namespace_info> namespaces;
  std::vector<pod> pods;
  std::vector<policy> policies;
};

// The labels a Cilium selector sees on a pod: its own, io.kubernetes.pod.namespace and each label
// of its namespace as io.cilium.k8s.namespace.labels.<key>.
label_map cilium_labels(const pod& p, const label_map* namespace_labels);

inline constexpr std::string_view cilium_namespace_key = "io.kubernetes.pod.namespace";
inline constexpr std::string_view cilium_namespace_label_prefix = "io.cilium.k8s.namespace.labels.";

}  // namespace mlnetpol::policy::eval
