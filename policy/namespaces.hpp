#pragma once
// Which roles a namespace has under a configuration, and which namespaces are secured. Shared by the
// label engine (namespace labels) and the renderer (policy sets), so both agree by construction.
#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/config.hpp"

namespace mlnetpol::policy {

struct namespace_roles {
  bool platform = false;
  bool tenant = false;
  bool training = false;   // in ml_training_namespaces and enable_ml_policies
  bool inference = false;  // in ml_inference_namespaces and enable_ml_policies
  bool secured = false;    // gets the default-deny set
  bool ml() const { return training || inference; }
};

// The roles by name, as configuration keys such as deny_host_network_roles name them.
inline constexpr std::array<std::string_view, 4> role_names{"platform", "tenant", "training",
                                                            "inference"};
// Whether roles include the role called name (one of role_names).
bool has_role(const namespace_roles& roles, std::string_view name);

// All false when cfg.enabled is false.
namespace_roles roles_of(const config& cfg, std::string_view namespace_name);

// platform ∪ tenant ∪ (training ∪ inference when enable_ml_policies && secure_ml_namespaces);
// first-seen order, without duplicates; empty when !enabled.
std::vector<std::string> secured_namespaces(const config& cfg);

// Every namespace that gets at least one rendered policy (secured ∪ ML namespaces with ML policies).
std::vector<std::string> policy_namespaces(const config& cfg);

// The roles of every namespace a configuration names, computed once in time linear in its lists,
// then looked up in constant time: a pass over n namespaces costs O(n), not O(n²) as roles_of
// (a scan of the lists) would.
class namespace_index {
 public:
  explicit namespace_index(const config& cfg);
  // As roles_of(cfg, namespace_name).
  namespace_roles roles(std::string_view namespace_name) const;
  const std::vector<std::string>& secured() const { return secured_; }
  const std::vector<std::string>& policy_namespaces() const { return policy_; }

 private:
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, namespace_roles, hash, std::equal_to<>> roles_;
  std::vector<std::string> secured_;
  std::vector<std::string> policy_;
};

}  // namespace mlnetpol::policy
