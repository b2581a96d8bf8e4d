#pragma once
// The guard between a new configuration and the cluster: a change that would remove the managed
// policies of more namespaces than the limits allow is held until an operator confirms it (a
// truncated file, a bad merge, a wrong ConfigMap must never unsecure the cluster in one pass).
// Pure: the configuration and what the cluster holds in, the decision out.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/config.hpp"

namespace mlnetpol::controller {

// The namespace annotation (on the Lease's namespace) whose value confirms a held change.
inline constexpr std::string_view confirm_config_annotation = "mlnetpol.io/confirm-config";

struct removal_limits {
  unsigned max_percent = 10;        // --prune-guard-percent
  std::size_t max_namespaces = 50;  // --prune-guard-namespaces
};

// How many of `holding` namespaces may lose their policies in one change: the smaller of
// max_namespaces and max_percent % of them, never less than one (removing a single namespace from
// the configuration is the ordinary way to unsecure it).
std::size_t allowed_removals(std::size_t holding, const removal_limits& limits);

struct removal_check {
  std::vector<std::string> removed;  // holding namespaces the configuration renders nothing for
  std::size_t holding = 0;
  std::size_t allowed = 0;
  bool held() const { return removed.size() > allowed; }
};

// `holding`: the existing namespaces that hold managed policies now (sorted, distinct).
removal_check check_removal(const policy::config& proposed, const std::vector<std::string>& holding,
                            const removal_limits& limits);

// Names one configuration (hex of a 64-bit FNV-1a over its canonical YAML): the value an operator
// confirms, so a confirmation never applies some later, different change.
std::string config_digest(const policy::config& cfg);
// The command that confirms the change `digest` (logged and shown on /status).
std::string confirm_command(std::string_view confirm_namespace, std::string_view digest);

}  // namespace mlnetpol::controller
