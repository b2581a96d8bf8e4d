// The evaluator's inputs: the first line is a JSON array of Kubernetes objects (Namespaces, Pods,
// NetworkPolicies, Cilium policies; anything else is ignored or refused with an error), the rest
// are Hubble flow lines. Invariants: parsing never crashes; for every ordered pair of the pods
// (and a few places outside) the explaining verdict equals the fast one the matrix uses, and the
// grouped matrix equals the pairwise verdicts; flows are judged without a crash; all within the
// linear CPU budget of fuzz_support.hpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "policy/eval/evaluate.hpp"
#include "policy/eval/flows.hpp"
#include "policy/eval/matrix.hpp"
#include "policy/eval/parse.hpp"
#include "policy/eval/report.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace eval = mlnetpol::policy::eval;

void run(std::string_view input) {
  const auto newline = input.find('\n');
  const std::string objects(input.substr(0, newline));
  const std::string_view flows =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  eval::cluster c;
  rapidjson::Document d;
  d.Parse(objects.c_str());
  if (!d.HasParseError() && d.IsArray()) {
    std::size_t i = 0;
    for (const auto& o : d.GetArray()) (void)eval::add_object(c, o, "fuzz#" + std::to_string(i++));
  }
  const eval::evaluator ev(c);
  std::vector<eval::endpoint> endpoints;
  for (std::size_t i = 0; i < c.pods.size() && i < 8; ++i)
    endpoints.push_back(ev.pod_endpoint(c.pods[i]));
  eval::endpoint outside;
  outside.ip = eval::parse_ip("52.1.2.3");
  outside.ip_text = "52.1.2.3";
  outside.host = "s3.amazonaws.com";
  endpoints.push_back(outside);
  for (int port : {0, 53, 80, 443}) {
    const auto m = eval::compute_matrix(ev, endpoints, port, eval::protocol::tcp);
    for (std::size_t a = 0; a < endpoints.size(); ++a) {
      for (std::size_t b = 0; b < endpoints.size(); ++b) {
        const eval::query q{endpoints[a], endpoints[b], port, eval::protocol::tcp};
        const auto answer = ev.explain(q);
        (void)eval::answer_text(q, answer);
        (void)eval::answer_json(answer);
        (void)eval::suggest_fixes(q, answer, nullptr);
        if (answer.allowed != ev.allowed(q, ev.selecting(q.from, false), ev.selecting(q.to, true)))
          mlnetpol::fuzz::invariant_failed("explain and the fast verdict differ", objects);
        if (answer.allowed != m.at(a, b))
          mlnetpol::fuzz::invariant_failed("the grouped matrix differs from explain", objects);
      }
    }
  }
  eval::flow_judge judge(c, nullptr);
  std::size_t start = 0;
  while (start <= flows.size()) {
    const auto nl = flows.find('\n', start);
    judge.add_line(
        flows.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  (void)eval::flow_summary_text(judge.finish());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  mlnetpol::fuzz::run_within_budget(size, [&] { run(input); });
  return 0;
}
