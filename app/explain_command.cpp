// `mlnetpol explain`: whether one connection is allowed, and which policy and rule decide it.
#include <cstdio>
#include <string>
#include <string_view>

#include "app/cluster_input.hpp"
#include "app/commands.hpp"
#include "common/flags.hpp"
#include "policy/eval/report.hpp"
#include "policy/eval/target.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* explain_usage =
    "usage: mlnetpol explain (--from NS/POD | --from-labels NS:k=v,...)\n"
    "                        (--to NS/POD|IP|HOST | --to-labels NS:k=v,...)\n"
    "                        [--port N] [--protocol TCP|UDP|SCTP] [-o text|json]\n"
    "                        [-f FILE|DIR|-]... [--config FILE] [--kubeconfig FILE]\n"
    "\n"
    "Says whether the connection is allowed: the source's egress and the destination's ingress,\n"
    "each isolated or not, the policy and rule that allow it, or the policies that isolate it and\n"
    "the nearest rule with what does not match; then the smallest change that would allow it.\n"
    "\n"
    "flags:\n"
    "  --from NS/POD            the source pod\n"
    "  --from-labels NS:k=v,..  a source pod that does not exist yet (labels in namespace NS)\n"
    "  --to TARGET              NS/POD, an IP address, a DNS name (toFQDNs), NAME.NS.svc (a\n"
    "                           Service, toServices) or kube-apiserver\n"
    "  --to-labels NS:k=v,..    a destination pod that does not exist yet\n"
    "  --port N                 destination port (default: ports are not checked)\n"
    "  --protocol P             TCP (default), UDP or SCTP\n"
    "  -o, --output FMT         text (default) or json\n"
    "  -f, --filename PATH      Namespaces, Pods, NetworkPolicies, CiliumNetworkPolicies and\n"
    "                           CiliumClusterwideNetworkPolicies (YAML/JSON, Lists, a directory,\n"
    "                           - for stdin); repeatable; other kinds are ignored\n"
    "  --config FILE            add the policies mlnetpol renders for this configuration\n"
    "  --kubeconfig FILE        read everything live from the API server (in a pod with no other\n"
    "                           input: in-cluster)\n"
    "\n"
    "exit status: 0 allowed, 1 denied, 2 bad input.\n";

}  // namespace

int explain_command(int argc, char** argv) {
  cluster_sources sources;
  std::string from, to, from_labels, to_labels, output = "text", protocol_name = "TCP";
  int port = 0;
  flags::wording wording;
  wording.missing_value = "{} needs a value";
  flags::parser p(wording);
  add_cluster_flags(p, sources);
  p.value("--from", flags::store_into(from))
      .value("--to", flags::store_into(to))
      .value("--from-labels", flags::store_into(from_labels))
      .value("--to-labels", flags::store_into(to_labels))
      .value("--port",
             [&port](std::string_view v) -> std::string {
               int n = 0;
               for (char c : v) {
                 if (c < '0' || c > '9' || n > 65535)
                   return "--port: not a port number: '" + std::string(v) + "'";
                 n = n * 10 + (c - '0');
               }
               if (v.empty() || n < 1 || n > 65535)
                 return "--port: not a port number: '" + std::string(v) + "'";
               port = n;
               return {};
             })
      .value("--protocol", flags::store_into(protocol_name))
      .value("--output", flags::store_into(output))
      .alias("-o", "--output");
  if (const auto done = parse_arguments(p, argc, argv, "explain", explain_usage)) return *done;
  auto bad = [](const std::string& message) { return argument_error("explain", message); };
  if (output != "text" && output != "json")
    return bad("unknown output format '" + output + "' (text or json)");
  const auto parsed_protocol = policy::eval::parse_protocol_name(protocol_name);
  if (!parsed_protocol) return bad("--protocol: '" + protocol_name + "' is not TCP, UDP or SCTP");
  const policy::eval::protocol proto = *parsed_protocol;
  if (from.empty() == from_labels.empty()) return bad("give one of --from or --from-labels");
  if (to.empty() == to_labels.empty()) return bad("give one of --to or --to-labels");

  auto loaded = load_cluster(sources);
  if (!loaded) return bad(loaded.error().message);
  const policy::eval::evaluator ev(loaded->data);
  policy::eval::target_store store;
  auto source = from.empty() ? policy::eval::labelled_pod(ev, from_labels, store)
                             : policy::eval::parse_target(ev, from);
  if (!source) return bad("--from: " + source.error().message);
  if (source->p == nullptr)
    return bad("--from: the source must be a pod (NS/POD or --from-labels)");
  auto destination = to.empty() ? policy::eval::labelled_pod(ev, to_labels, store)
                                : policy::eval::parse_target(ev, to);
  if (!destination) return bad("--to: " + destination.error().message);

  const policy::eval::query q{*source, *destination, port, proto};
  const auto answer = ev.explain(q);
  if (output == "json") {
    const std::string json = policy::eval::answer_json(answer) + "\n";
    std::fwrite(json.data(), 1, json.size(), stdout);
  } else {
    const std::string text = policy::eval::answer_text(q, answer) +
                             policy::eval::fixes_text(policy::eval::suggest_fixes(
                                 q, answer, loaded->cfg ? &*loaded->cfg : nullptr));
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return answer.allowed ? 0 : 1;
}

}  // namespace mlnetpol::app
