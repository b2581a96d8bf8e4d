#pragma once
// Which roles a namespace has under a configuration, and which namespaces are secured. Shared by the
// label engine (namespace labels) and the renderer (policy sets), so both agree by construction.
#include <array>
#include <string>
#include <string_view>
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

}  // namespace mlnetpol::policy
