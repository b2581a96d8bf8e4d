#include "controller/config_guard.hpp"

#include <algorithm>

#include "policy/config_parse.hpp"
#include "policy/render/hash.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {

std::size_t allowed_removals(std::size_t holding, const removal_limits& limits) {
  const std::size_t by_percent = holding * std::min(limits.max_percent, 100u) / 100;
  return std::max<std::size_t>(1, std::min(limits.max_namespaces, by_percent));
}

removal_check check_removal(const policy::config& proposed, const std::vector<std::string>& holding,
                            const removal_limits& limits) {
  removal_check check;
  check.holding = holding.size();
  check.allowed = allowed_removals(holding.size(), limits);
  for (const auto& ns : holding) {
    if (policy::render_policies(proposed, ns).empty()) check.removed.push_back(ns);
  }
  return check;
}

std::string config_digest(const policy::config& cfg) {
  return policy::render::spec_hash(policy::format_config_yaml(cfg));
}

std::string confirm_command(std::string_view confirm_namespace, std::string_view digest) {
  return "kubectl annotate namespace " + std::string(confirm_namespace) + " " +
         std::string(confirm_config_annotation) + "=" + std::string(digest) + " --overwrite";
}

}  // namespace mlnetpol::controller
