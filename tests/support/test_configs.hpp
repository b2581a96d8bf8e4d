#pragma once
// The renderer's test configurations, built in code. Each has a twin YAML file in
// tests/render/configs/<name>.yaml that the schema script renders through the CLI and compares with
// the same golden, so the two cannot drift apart.
#include <string>
#include <vector>

#include "policy/config.hpp"

namespace mlnetpol::testing {

struct named_config {
  std::string name;  // file stem under tests/render/configs and tests/render/golden
  policy::config cfg;
};

// The module README's "Basic (Standard Kubernetes NetworkPolicy)" example.
inline policy::config basic_config() {
  policy::config c;
  c.enabled = true;
  c.cilium_mode = false;
  c.platform_namespaces = {"argocd", "monitoring", "flux-system"};
  c.tenant_namespaces = {"team-alpha", "team-beta"};
  return c;
}

// The module README's "Enhanced (Cilium NetworkPolicy)" example.
inline policy::config enhanced_config() {
  policy::config c;
  c.enabled = true;
  c.cilium_mode = true;
  c.enable_ml_policies = true;
  c.ml_training_namespaces = {"kubeflow", "training"};
  c.ml_inference_namespaces = {"inference", "serving"};
  c.inference_allowed_services = {{"postgres", "database"}, {"feast", "feature-store"}};
  return c;
}

// The module README's "Example 3: Multi-Tenant Isolation".
inline policy::config multi_tenant_config() {
  policy::config c;
  c.enabled = true;
  c.cilium_mode = true;
  c.tenant_namespaces = {"team-alpha", "team-beta", "team-gamma"};
  return c;
}

// Standard mode with ML namespaces, standard_ml_policies on (the default) or off.
inline policy::config standard_ml_config(bool on) {
  policy::config c;
  c.cilium_mode = false;
  c.platform_namespaces = {"monitoring"};
  c.ml_training_namespaces = {"training"};
  c.ml_inference_namespaces = {"inference"};
  c.standard_ml_policies = on;
  return c;
}

// Cilium mode reproducing the module's ML namespaces (no default deny for their other pods), for
// a Cilium older than 1.15 (no enableDefaultDeny field).
inline policy::config cilium_unsecured_ml_config() {
  policy::config c;
  c.cilium_mode = true;
  c.secure_ml_namespaces = false;
  c.cilium_default_deny_field = false;
  c.platform_namespaces = {"monitoring"};
  c.ml_training_namespaces = {"training", "mlops"};
  c.ml_inference_namespaces = {"serving", "mlops"};
  return c;
}

// Standard mode with the API server pinned to CIDRs.
inline policy::config standard_api_cidrs_config() {
  policy::config c = standard_ml_config(true);
  c.api_server_cidrs = {"10.0.0.10/32", "fd00::10/128"};
  c.platform_pod_selector_key = "";
  return c;
}

inline policy::config disabled_config() {
  policy::config c;
  c.enabled = false;
  return c;
}

inline std::vector<named_config> all_configs() {
  return {{"basic", basic_config()},
          {"enhanced", enhanced_config()},
          {"multi-tenant", multi_tenant_config()},
          {"standard-ml-on", standard_ml_config(true)},
          {"standard-ml-off", standard_ml_config(false)},
          {"cilium-unsecured-ml", cilium_unsecured_ml_config()},
          {"standard-api-cidrs", standard_api_cidrs_config()},
          {"defaults", policy::config{}},
          {"disabled", disabled_config()}};
}

}  // namespace mlnetpol::testing
