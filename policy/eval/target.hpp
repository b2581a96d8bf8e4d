#pragma once
// The ends of a connection as a person names them on the command line, and as Hubble names them:
// "NS/POD", an IP address, a DNS name, "NAME.NS.svc[.cluster.local]" (a Service),
// "kube-apiserver", or a pod that does not exist yet ("NS:key=value,...").
#include <deque>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "policy/eval/evaluate.hpp"

namespace mlnetpol::policy::eval {

// Owns what endpoints point at when they are not pods of the cluster (hypothetical pods and their
// Cilium label views). Keep it alive as long as the endpoints.
struct target_store {
  std::deque<pod> pods;
  std::deque<label_map> views;
};

// "NS/POD" must name a pod of the cluster; an error says which pods that namespace has.
result<endpoint> parse_target(const evaluator& ev, std::string_view text);
// "NS:key=value,...": a pod that does not exist yet, named "(key=value,...)".
result<endpoint> labelled_pod(const evaluator& ev, std::string_view text, target_store& store);

}  // namespace mlnetpol::policy::eval
