#include "policy/namespaces.hpp"

#include <algorithm>

namespace mlnetpol::policy {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void append_unique(std::vector<std::string>& out, const std::vector<std::string>& more) {
  for (const auto& name : more) {
    if (!contains(out, name)) out.push_back(name);
  }
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
  if (cfg.enable_ml_policies) {
    roles.training = contains(cfg.ml_training_namespaces, namespace_name);
    roles.inference = contains(cfg.ml_inference_namespaces, namespace_name);
  }
  roles.secured = roles.platform || roles.tenant || (roles.ml() && cfg.secure_ml_namespaces);
  return roles;
}

std::vector<std::string> secured_namespaces(const config& cfg) {
  std::vector<std::string> out;
  if (!cfg.enabled) return out;
  append_unique(out, cfg.platform_namespaces);
  append_unique(out, cfg.tenant_namespaces);
  if (cfg.enable_ml_policies && cfg.secure_ml_namespaces) {
    append_unique(out, cfg.ml_training_namespaces);
    append_unique(out, cfg.ml_inference_namespaces);
  }
  return out;
}

std::vector<std::string> policy_namespaces(const config& cfg) {
  std::vector<std::string> out = secured_namespaces(cfg);
  if (cfg.enabled && cfg.enable_ml_policies) {
    append_unique(out, cfg.ml_training_namespaces);
    append_unique(out, cfg.ml_inference_namespaces);
  }
  return out;
}

}  // namespace mlnetpol::policy
