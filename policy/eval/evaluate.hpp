#pragma once
// The verdict on one connection: allowed only when the source's egress and the destination's
// ingress both allow it (Kubernetes NetworkPolicy semantics; Cilium policies add their allow rules
// to the same union and their deny rules win over every allow). Pure and linear in the policies.
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/eval/model.hpp"

namespace mlnetpol::policy::eval {

// One end of a connection: a pod of the cluster (or a hypothetical one), or something outside
// the pod network: an address, a DNS name, a Service, the nodes or the API server.
struct endpoint {
  const pod* p = nullptr;
  const label_map* cilium = nullptr;  // cilium_labels(*p, ...), set by the evaluator
  std::optional<ip_address> ip;
  std::string ip_text;
  std::string host;               // DNS name (lower case, no trailing dot)
  std::optional<entity> special;  // host, remote_node or kube_apiserver
  std::string service_name, service_namespace;
  std::string text() const;  // "x/a", "10.0.0.1", "s3.amazonaws.com (52.1.2.3)", "kube-apiserver"
};

struct query {
  endpoint from, to;
  int port = 0;  // 0: ports are not checked (every rule's ports are taken as matching)
  protocol proto = protocol::tcp;
};

struct policy_answer {
  const policy* pol = nullptr;
  // not_selected: a policy of the namespace with a rule that would allow the connection but that
  // does not select the pod (a missing label is the usual story); `mismatches` says what it needs.
  enum class effect { allows, denies, no_match, not_selected } eff = effect::no_match;
  std::string rule;                     // the rule that allows or denies, or the nearest one
  std::vector<std::string> mismatches;  // no_match: what the nearest rule does not match
  std::vector<std::string> notes;       // e.g. an L7 DNS filter on the allowing rule
};

struct direction_answer {
  bool evaluated = false;  // false when that end is not a pod (nothing of the cluster decides)
  bool isolated = false;
  bool allowed = true;
  std::vector<policy_answer> policies;  // every policy that selects the pod for this direction
  // When denied: policies that would allow it if they selected the pod.
  std::vector<policy_answer> not_selecting;
  std::vector<std::string> unsupported;  // "Kind ns/name: field" the verdict could depend on
};

struct answer {
  bool allowed = true;
  direction_answer egress, ingress;
};

class evaluator {
 public:
  // Keeps a reference: `c` must outlive the evaluator.
  explicit evaluator(const cluster& c);

  const pod* find_pod(std::string_view ns, std::string_view name) const;
  const label_map* namespace_labels(std::string_view ns) const;
  // A pod endpoint with its Cilium label view (owned by the evaluator for cluster pods; for a
  // hypothetical pod the caller keeps `view` alive).
  endpoint pod_endpoint(const pod& p) const;
  endpoint pod_endpoint(const pod& p, label_map& view) const;

  answer explain(const query& q) const;
  // The verdict alone, with the policies that select each pod given (matrix: pods grouped).
  bool allowed(const query& q, const std::vector<const policy*>& egress_policies,
               const std::vector<const policy*>& ingress_policies) const;
  // The policies that select `p` for a direction (its isolation and rules come from these).
  std::vector<const policy*> selecting(const endpoint& e, bool ingress) const;

  const cluster& data() const { return c_; }

 private:
  void near_misses(const endpoint& side, const endpoint& other, const query& q, bool ingress,
                   direction_answer& d) const;
  direction_answer decide(const endpoint& side, const endpoint& peer, const query& q, bool ingress,
                          const std::vector<const policy*>& policies, bool explain) const;

  // The policies that can select a pod of namespace `ns`: that namespace's and the clusterwide
  // ones, in input order (answers list them in that order).
  std::vector<const policy*> candidates(const std::string& ns) const;

  const cluster& c_;
  // Indices into c_.policies, ascending: namespaced policies by namespace, clusterwide ones.
  std::unordered_map<std::string, std::vector<std::size_t>> policies_by_namespace_;
  std::vector<std::size_t> clusterwide_;
  std::unordered_map<std::string, const namespace_info*> namespaces_;
  std::unordered_map<std::string, const pod*> pods_;  // "ns/name"
  std::vector<label_map> cilium_views_;               // parallel to c_.pods
  std::deque<namespace_info> implied_;  // namespaces pods name but the input does not hold
};

}  // namespace mlnetpol::policy::eval
