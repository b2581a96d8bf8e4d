#include "policy/eval/target.hpp"

#include <algorithm>
#include <cctype>

#include "policy/eval/parse.hpp"

namespace mlnetpol::policy::eval {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

result<endpoint> parse_target(const evaluator& ev, std::string_view text) {
  if (text.empty()) return fail("an empty target");
  if (auto ip = parse_ip(text)) {
    endpoint e;
    e.ip = ip;
    e.ip_text = std::string(text);
    return e;
  }
  if (text == "kube-apiserver" || text == "host" || text == "remote-node") {
    endpoint e;
    e.special = text == "host"          ? entity::host
                : text == "remote-node" ? entity::remote_node
                                        : entity::kube_apiserver;
    return e;
  }
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view ns = text.substr(0, slash), name = text.substr(slash + 1);
    if (const pod* p = ev.find_pod(ns, name)) return ev.pod_endpoint(*p);
    std::string known;
    std::size_t count = 0;
    for (const auto& p : ev.data().pods) {
      if (p.namespace_name != ns) continue;
      if (count++ < 10) known += (known.empty() ? "" : ", ") + p.name;
    }
    return fail("no pod " + std::string(text) + " in the input" +
                (count == 0 ? " (namespace " + std::string(ns) + " has no pods)"
                            : " (namespace " + std::string(ns) + " has " + known +
                                  (count > 10 ? ", ..." : "") + ")") +
                "; use --from-labels/--to-labels NS:key=value for a pod that does not exist yet");
  }
  endpoint e;
  std::string host = lower(text);
  for (std::string_view suffix : {".svc.cluster.local", ".svc"}) {
    if (host.size() > suffix.size() &&
        host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string rest = host.substr(0, host.size() - suffix.size());
      const auto dot = rest.find('.');
      if (dot != std::string::npos && rest.find('.', dot + 1) == std::string::npos) {
        e.service_name = rest.substr(0, dot);
        e.service_namespace = rest.substr(dot + 1);
        return e;
      }
    }
  }
  e.host = std::move(host);
  return e;
}

result<endpoint> labelled_pod(const evaluator& ev, std::string_view text, target_store& store) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return fail("'" + std::string(text) + "' is not NS:key=value,...");
  auto labels = parse_label_list(text.substr(colon + 1));
  if (!labels) return labels.error();
  pod p;
  p.namespace_name = std::string(text.substr(0, colon));
  p.name = "(" + std::string(text.substr(colon + 1)) + ")";
  p.labels = std::move(*labels);
  store.pods.push_back(std::move(p));
  store.views.emplace_back();
  return ev.pod_endpoint(store.pods.back(), store.views.back());
}

}  // namespace mlnetpol::policy::eval
