#pragma once
// Every ordered pair of endpoints -> allowed or not, on one port. Pods that no selector can tell
// apart (same namespace, labels and container ports) are judged once per group, so the cost is
// groups² verdicts plus the table itself.
#include <string>
#include <vector>

#include "policy/config.hpp"
#include "policy/eval/evaluate.hpp"

namespace mlnetpol::policy::eval {

struct matrix {
  int port = 80;
  protocol proto = protocol::tcp;
  std::vector<std::string> names;  // "x/a", "kube-apiserver", "s3.amazonaws.com (52.216.0.1)"
  std::vector<char> allowed;       // allowed[from * n + to], 1 or 0
  std::size_t groups = 0;          // distinct verdict groups judged
  bool at(std::size_t from, std::size_t to) const { return allowed[from * names.size() + to] != 0; }
};

matrix compute_matrix(const evaluator& ev, const std::vector<endpoint>& endpoints, int port,
                      protocol proto);

// A truth table like the Kubernetes NetworkPolicy e2e suite prints ('.' allowed, 'X' denied).
std::string matrix_text(const matrix& m);
std::string matrix_markdown(const matrix& m);
// {"port": 80, "protocol": "TCP", "pods": [...], "matrix": {from: {to: bool}}}
std::string matrix_json(const matrix& m);
std::string matrix_dot(const matrix& m);

// With a configuration alone: one namespace per namespace it secures (labelled as mlnetpol labels
// it), one pod per workload type, kube-dns, the ingress controller and an unsecured namespace.
cluster sample_cluster(const config& cfg);
// The places outside the pod network ML pods talk to: the API server, S3, ECR, STS, CloudWatch
// and "the internet".
std::vector<endpoint> sample_destinations(const config& cfg);

}  // namespace mlnetpol::policy::eval
