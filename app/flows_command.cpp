// `mlnetpol flows FILE|-`: Hubble flows (`hubble observe -o json`) judged against the set enforce
// would apply: what would be dropped, grouped, with the smallest change that would allow it.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "app/cluster_input.hpp"
#include "app/commands.hpp"
#include "common/flags.hpp"
#include "policy/eval/flows.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* flows_usage =
    "usage: mlnetpol flows FILE|- [--config FILE] [-f FILE|DIR|-]... [--kubeconfig FILE]\n"
    "\n"
    "Reads Hubble flows (`hubble observe -o json`, one object per line) and judges each against\n"
    "the policies mlnetpol would enforce (--config) plus any given with -f or read live: prints\n"
    "what enforce would drop, grouped by source namespace and workload type, destination and\n"
    "port, with counts and the smallest change that would allow each. The audit -> enforce\n"
    "preview. Replies, L7 records and ICMP are counted and not judged.\n"
    "\n"
    "exit status: 0 nothing would be dropped, 1 something would, 2 bad input.\n";

}  // namespace

int flows_command(int argc, char** argv) {
  cluster_sources sources;
  std::string input;
  bool extra = false;
  flags::wording wording;
  wording.missing_value = "{} needs a value";
  flags::parser p(wording);
  add_cluster_flags(p, sources);
  p.positional([&](std::string_view v) -> std::string {
    if (!input.empty()) extra = true;
    input = v;
    return {};
  });
  if (const auto done = parse_arguments(p, argc, argv, "flows", flows_usage)) return *done;
  auto bad = [](const std::string& message) { return argument_error("flows", message); };
  if (input.empty() || extra)
    return bad("give one flows file (or - for stdin)\n\n" + std::string(flows_usage));
  if (input == "-" &&
      std::find(sources.files.begin(), sources.files.end(), "-") != sources.files.end())
    return bad("stdin cannot be both the flows and -f -");
  auto loaded = load_cluster(sources);
  if (!loaded) return bad(loaded.error().message);
  std::ifstream file;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) return bad(input + ": cannot open");
  }
  std::istream& in = input == "-" ? std::cin : file;
  const policy::config* cfg = loaded->cfg ? &*loaded->cfg : nullptr;
  policy::eval::flow_judge judge(std::move(loaded->data), cfg);
  std::string line;
  while (std::getline(in, line)) judge.add_line(line);
  if (in.bad()) return bad(input + ": read error");
  const auto summary = judge.finish();
  const std::string text = policy::eval::flow_summary_text(summary);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return summary.dropped > 0 ? 1 : 0;
}

}  // namespace mlnetpol::app
