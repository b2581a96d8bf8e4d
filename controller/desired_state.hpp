#pragma once
// One configuration and what it implies, each computed at most once per configuration: the roles
// of every namespace (constant-time lookups), each namespace's rendered set (rendered on first use,
// then reused until the configuration changes, which makes a new desired_state), and the module's
// outputs. Passes and watch events read it, so none of them costs time in the namespace count.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/config.hpp"
#include "policy/namespaces.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {

using rendered_set = std::vector<policy::rendered_object>;

// A stable hash of a rendered set: its objects' kinds, names and spec hashes, in render order;
// "" for an empty set.
std::string policy_set_hash(const rendered_set& set);

class desired_state {
 public:
  explicit desired_state(std::shared_ptr<const policy::config> cfg);
  explicit desired_state(policy::config cfg)
      : desired_state(std::make_shared<const policy::config>(std::move(cfg))) {}
  desired_state(const desired_state&) = delete;
  desired_state& operator=(const desired_state&) = delete;

  const policy::config& config() const { return *config_; }
  policy::namespace_roles roles(std::string_view namespace_name) const {
    return index_.roles(namespace_name);
  }
  // Thread-safe; what policy::render_namespace returns, rendered once per configuration.
  std::shared_ptr<const rendered_set> policies(const std::string& namespace_name) const;
  // The hash of the namespace's rendered set (policy_set_hash of policies()): what the leader
  // records on the Namespace once the set is stored, and what the scheduling gate compares.
  std::string policy_set_hash(const std::string& namespace_name) const;
  // The module's outputs (policy::summarize), from the cached sets.
  const policy::render_summary& summary() const;
  // How many namespaces were rendered (not served from the cache): tests check reuse with it.
  std::uint64_t renders() const;

 private:
  std::shared_ptr<const policy::config> config_;
  policy::namespace_index index_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const rendered_set>> rendered_;
  mutable std::optional<policy::render_summary> summary_;
  mutable std::uint64_t renders_ = 0;
};

}  // namespace mlnetpol::controller
