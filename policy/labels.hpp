#pragma once
// The labels and annotations mlnetpol owns: the one definition of each (label rules are in
// name_rules.hpp, kinds in kinds.hpp, inference in inference.hpp).
#include <string_view>

namespace mlnetpol::policy {

inline constexpr std::string_view training_value = "training";
inline constexpr std::string_view inference_value = "inference";

// Labels the engine owns on namespaces (the webhook configurations select by secured_label).
inline constexpr std::string_view secured_label = "mlnetpol.io/secured";
inline constexpr std::string_view platform_label = "mlnetpol.io/platform";
inline constexpr std::string_view tenant_label = "mlnetpol.io/tenant";
inline constexpr std::string_view training_label = "mlnetpol.io/training";
inline constexpr std::string_view inference_label = "mlnetpol.io/inference";
// Per-namespace override of enforcement_mode (enforce | warn | audit), set by administrators
// (owned_labels.hpp refuses it from anyone else).
inline constexpr std::string_view enforcement_label = "mlnetpol.io/enforcement";
// Names the signal a workload-type label was inferred from.
inline constexpr std::string_view source_annotation = "mlnetpol.io/workload-type-source";
// On every rendered policy (the reconciler lists by managed-by and compares the live spec with the
// rendered one); the engine protects objects that carry managed_by_label=managed_by_value.
inline constexpr std::string_view managed_by_label = "app.kubernetes.io/managed-by";
inline constexpr std::string_view managed_by_value = "mlnetpol";
inline constexpr std::string_view part_of_label = "app.kubernetes.io/part-of";
inline constexpr std::string_view policy_label = "mlnetpol.io/policy";
inline constexpr std::string_view spec_hash_annotation = "mlnetpol.io/spec-hash";

}  // namespace mlnetpol::policy
