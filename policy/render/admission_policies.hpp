#pragma once
// The label rules as ValidatingAdmissionPolicies and their bindings (issue 24): the API server
// evaluates them itself, so they hold while every mlnetpol replica is down. Pure: config in, JSON
// text out. Bindings select namespaces by kubernetes.io/metadata.name (set by the API server on
// every namespace), one binding per mode so the mlnetpol.io/enforcement override picks the action.
#include <string_view>
#include <vector>

#include "policy/config.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::policy {

inline constexpr std::string_view admission_policy_group = "admissionregistration.k8s.io";
inline constexpr std::string_view admission_policy_v1 = "admissionregistration.k8s.io/v1";
inline constexpr std::string_view admission_policy_v1beta1 = "admissionregistration.k8s.io/v1beta1";
inline constexpr std::string_view admission_policy_kind = "ValidatingAdmissionPolicy";
inline constexpr std::string_view admission_binding_kind = "ValidatingAdmissionPolicyBinding";

// The policies, then their bindings, in a stable order; api_version is admission_policy_v1 or
// admission_policy_v1beta1 (the same spec in both). Empty when cfg.enabled is false or no
// namespace has a rule to enforce.
std::vector<rendered_object> render_admission_policies(const config& cfg,
                                                       std::string_view api_version);

}  // namespace mlnetpol::policy
