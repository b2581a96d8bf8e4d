#pragma once
// What each policy allows, independent of the output format: the renderer turns these into
// NetworkPolicy or CiliumNetworkPolicy JSON and into the Graphviz picture, so both show the same
// rules.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/config.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::policy::render {

enum class protocol { tcp, any };  // any: TCP and UDP (NetworkPolicy), ANY (Cilium)

struct port {
  std::uint16_t number = 0;
  protocol proto = protocol::tcp;
};

// Pods of one namespace: all of them, those with these labels, or those carrying exists_key.
struct pod_group {
  std::string namespace_name;
  std::map<std::string, std::string> match_labels;
  std::string exists_key;
};

enum class peer_kind {
  pods,        // pods (a pod_group; match_labels empty: every pod of the namespace)
  kube_dns,    // kube-dns pods in kube-system
  api_server,  // the kube-apiserver (Cilium entity; standard mode: cidrs or anywhere)
  fqdns,       // names (Cilium toFQDNs)
  service,     // a Kubernetes Service (Cilium toServices)
  cidr,        // an address block with exceptions
  anywhere,    // any destination (only the ports restrict)
};

struct peer {
  peer_kind kind = peer_kind::anywhere;
  pod_group pods;                   // pods
  std::vector<std::string> names;   // fqdns
  k8s_service_ref service;          // service
  std::string cidr;                 // cidr / api_server (standard mode, when configured)
  std::vector<std::string> except;  // cidr
};

// One allow rule. Its peers are all of one kind (Cilium rejects some mixes, e.g. toFQDNs with
// toEndpoints). No ports: every port.
struct rule {
  std::vector<peer> peers;
  std::vector<port> ports;
  bool dns_l7 = false;  // Cilium: the DNS proxy sees the lookups (rules.dns matchPattern "*")
  std::string what;     // a short text for the picture, e.g. "all-reduce / NCCL"
};

struct policy_model {
  bool cilium = false;
  std::string name;
  std::string namespace_name;
  std::string description;
  pod_group selector;                  // its namespace_name is the policy's
  bool ingress_type = false;           // the selected pods are default-deny for ingress
  bool egress_type = false;            // ... for egress
  bool explicit_default_deny = false;  // Cilium: spell out enableDefaultDeny for both directions
  std::vector<rule> ingress;
  std::vector<rule> egress;
};

// DNS to kube-dns (port 53, TCP and UDP); cilium: through the DNS proxy. Every default deny
// allows it, the cluster-wide one too (clusterwide.hpp).
rule dns_rule(bool cilium);

// Every policy the configuration requires, in the order of render_policies (namespace order of
// policy_namespaces, then name), optionally only those of one namespace.
std::vector<policy_model> build_models(const config& cfg, std::string_view only_namespace = {});

// The policies of one namespace whose roles are known (namespace_index::roles), sorted by name; its
// cost does not depend on how many namespaces the configuration names.
std::vector<policy_model> namespace_models(const config& cfg, const std::string& ns,
                                           const namespace_roles& roles);

}  // namespace mlnetpol::policy::render
