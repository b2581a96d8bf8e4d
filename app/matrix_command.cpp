// `mlnetpol matrix`: every ordered pair of the pods given -> allowed or not, on one port.
#include <cstdio>
#include <string>
#include <string_view>

#include "app/cluster_input.hpp"
#include "app/commands.hpp"
#include "common/flags.hpp"
#include "policy/eval/matrix.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* matrix_usage =
    "usage: mlnetpol matrix [--port 80] [--protocol TCP|UDP|SCTP] [-o text|markdown|json|dot]\n"
    "                       [-f FILE|DIR|-]... [--config FILE] [--kubeconfig FILE]\n"
    "\n"
    "Every ordered pair of the pods given (rows: from, columns: to): '.' allowed, 'X' denied.\n"
    "With --config alone: one pod per namespace and workload type the configuration secures,\n"
    "kube-dns, the ingress controller, an unsecured namespace, and the API server, S3, ECR, STS,\n"
    "CloudWatch and the internet as destinations.\n"
    "\n"
    "flags:\n"
    "  --port N            destination port (default 80)\n"
    "  --protocol P        TCP (default), UDP or SCTP\n"
    "  -o, --output FMT    text (a truth table, default), markdown, json or dot (Graphviz)\n"
    "  -f, --filename PATH Namespaces, Pods and policies (YAML/JSON, Lists, a directory, -)\n"
    "  --config FILE       add the policies mlnetpol renders for this configuration\n"
    "  --kubeconfig FILE   read everything live from the API server\n"
    "\n"
    "exit status: 0 printed, 2 bad input.\n";

}  // namespace

int matrix_command(int argc, char** argv) {
  cluster_sources sources;
  std::string output = "text", protocol_name = "TCP", port_text = "80";
  flags::wording wording;
  wording.missing_value = "{} needs a value";
  flags::parser p(wording);
  add_cluster_flags(p, sources);
  p.value("--port", flags::store_into(port_text))
      .value("--protocol", flags::store_into(protocol_name))
      .value("--output", flags::store_into(output))
      .alias("-o", "--output");
  if (const auto done = parse_arguments(p, argc, argv, "matrix", matrix_usage)) return *done;
  auto bad = [](const std::string& message) { return argument_error("matrix", message); };
  if (output != "text" && output != "markdown" && output != "json" && output != "dot")
    return bad("unknown output format '" + output + "' (text, markdown, json or dot)");
  const auto parsed_protocol = policy::eval::parse_protocol_name(protocol_name);
  if (!parsed_protocol) return bad("--protocol: '" + protocol_name + "' is not TCP, UDP or SCTP");
  const policy::eval::protocol proto = *parsed_protocol;
  int port = 0;
  for (char c : port_text)
    port = (c >= '0' && c <= '9' && port <= 65535) ? port * 10 + (c - '0') : -1;
  if (port_text.empty() || port < 1 || port > 65535)
    return bad("--port: not a port number: '" + port_text + "'");

  auto loaded = load_cluster(sources);
  if (!loaded) return bad(loaded.error().message);
  const bool config_alone = sources.files.empty() && sources.kubeconfig.empty() && loaded->cfg;
  if (config_alone) {
    auto sample = policy::eval::sample_cluster(*loaded->cfg);
    loaded->data.namespaces = std::move(sample.namespaces);
    loaded->data.pods = std::move(sample.pods);
  }
  const policy::eval::evaluator ev(loaded->data);
  std::vector<policy::eval::endpoint> endpoints;
  for (const auto& pod : loaded->data.pods) endpoints.push_back(ev.pod_endpoint(pod));
  if (config_alone)
    for (auto& e : policy::eval::sample_destinations(*loaded->cfg))
      endpoints.push_back(std::move(e));
  if (endpoints.empty()) return bad("no pods in the input (give Pods with -f, or --config alone)");
  const auto m = policy::eval::compute_matrix(ev, endpoints, port, proto);
  const std::string text = output == "json"       ? policy::eval::matrix_json(m)
                           : output == "markdown" ? policy::eval::matrix_markdown(m)
                           : output == "dot"      ? policy::eval::matrix_dot(m)
                                                  : policy::eval::matrix_text(m);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace mlnetpol::app
