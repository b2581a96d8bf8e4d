#include "policy/namespaces.hpp"

#include <algorithm>
#include <unordered_set>

namespace mlnetpol::policy {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Appends the names not seen yet, in their order; `seen` makes it linear (a scan of `out` per name
// was quadratic: 97 % of a pass at a few thousand namespaces).
void append_unique(std::vector<std::string>& out, std::unordered_set<std::string_view>& seen,
                   const std::vector<std::string>& more) {
  for (const auto& name : more) {
    if (seen.insert(name).second) out.push_back(name);
  }
}

// The one rule for what follows from the list memberships.
namespace_roles finish(const config& cfg, namespace_roles roles) {
  if (!cfg.enable_ml_policies) roles.training = roles.inference = false;
  roles.secured = roles.platform || roles.tenant || (roles.ml() && cfg.secure_ml_namespaces);
  return roles;
}

// secured (and, with `all`, the ML namespaces with ML policies too), first-seen order.
std::vector<std::string> namespaces_of(const config& cfg, bool all) {
  std::vector<std::string> out;
  if (!cfg.enabled) return out;
  std::unordered_set<std::string_view> seen;
  append_unique(out, seen, cfg.platform_namespaces);
  append_unique(out, seen, cfg.tenant_namespaces);
  if (cfg.enable_ml_policies && (all || cfg.secure_ml_namespaces)) {
    append_unique(out, seen, cfg.ml_training_namespaces);
    append_unique(out, seen, cfg.ml_inference_namespaces);
  }
  return out;
}

}  // namespace

bool has_role(const namespace_roles& roles, std::string_view name) {
  if (name == role_names[0]) return roles.platform;
  if (name == role_names[1]) return roles.tenant;
  if (name == role_names[2]) return roles.training;
  if (name == role_names[3]) return roles.inference;
  return false;
}

namespace_roles roles_of(const config& cfg, std::string_view namespace_name) {
  namespace_roles roles;
  if (!cfg.enabled) return roles;
  roles.platform = contains(cfg.platform_namespaces, namespace_name);
  roles.tenant = contains(cfg.tenant_namespaces, namespace_name);
  roles.training = contains(cfg.ml_training_namespaces, namespace_name);
  roles.inference = contains(cfg.ml_inference_namespaces, namespace_name);
  return finish(cfg, roles);
}

std::vector<std::string> secured_namespaces(const config& cfg) {
  return namespaces_of(cfg, false);
}

std::vector<std::string> policy_namespaces(const config& cfg) {
  return namespaces_of(cfg, true);
}

namespace_index::namespace_index(const config& cfg)
    : secured_(namespaces_of(cfg, false)), policy_(namespaces_of(cfg, true)) {
  if (!cfg.enabled) return;
  auto mark = [&](const std::vector<std::string>& names, bool namespace_roles::*role) {
    for (const auto& name : names) roles_[name].*role = true;
  };
  mark(cfg.platform_namespaces, &namespace_roles::platform);
  mark(cfg.tenant_namespaces, &namespace_roles::tenant);
  mark(cfg.ml_training_namespaces, &namespace_roles::training);
  mark(cfg.ml_inference_namespaces, &namespace_roles::inference);
  for (auto& [name, roles] : roles_) roles = finish(cfg, roles);
}

namespace_roles namespace_index::roles(std::string_view namespace_name) const {
  const auto it = roles_.find(namespace_name);
  return it == roles_.end() ? namespace_roles{} : it->second;
}

}  // namespace mlnetpol::policy
