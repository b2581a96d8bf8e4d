#pragma once
// Kubernetes name rules, the labels mlnetpol owns, where pods and pod templates sit in an object,
// and workload-type inference. Pure functions over RapidJSON values.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/namespaces.hpp"

namespace mlnetpol::policy {

inline constexpr std::string_view training_value = "training";
inline constexpr std::string_view inference_value = "inference";

// Labels the engine owns on namespaces (the webhook configurations select by secured_label).
inline constexpr std::string_view secured_label = "mlnetpol.io/secured";
inline constexpr std::string_view platform_label = "mlnetpol.io/platform";
inline constexpr std::string_view tenant_label = "mlnetpol.io/tenant";
inline constexpr std::string_view training_label = "mlnetpol.io/training";
inline constexpr std::string_view inference_label = "mlnetpol.io/inference";
// Per-namespace override of enforcement_mode (enforce | warn | audit), set by users.
inline constexpr std::string_view enforcement_label = "mlnetpol.io/enforcement";
// Names the signal a workload-type label was inferred from.
inline constexpr std::string_view source_annotation = "mlnetpol.io/workload-type-source";
inline constexpr std::string_view managed_by_label = "app.kubernetes.io/managed-by";
inline constexpr std::string_view managed_by_value = "mlnetpol";

// --- Kubernetes name rules (k8s.io/apimachinery/pkg/util/validation) ---
bool is_dns1123_label(std::string_view s);      // namespaces, services
bool is_dns1123_subdomain(std::string_view s);  // label key prefixes
bool is_qualified_name(std::string_view s);     // label and annotation keys
bool is_label_value(std::string_view s);

// --- JSON access ---
const rapidjson::Value* json_member(const rapidjson::Value* v, std::string_view key);
std::string_view json_string(const rapidjson::Value* v);  // "" unless a string
// A string-valued entry of metadata.<map_name>; nullopt when absent or not a string.
std::optional<std::string_view> map_value(const rapidjson::Value* metadata,
                                          std::string_view map_name, std::string_view key);

// --- where labels live ---
// A pod or a pod template inside an admitted object.
struct pod_site {
  std::vector<std::string> metadata_path;      // from the object root to the metadata object
  std::string template_path;                   // "spec.template", "" for the Pod itself
  const rapidjson::Value* metadata = nullptr;  // null when the template has no metadata yet
  const rapidjson::Value* spec = nullptr;
};

// Workload kinds whose pod templates the engine handles (Deployment, Job, PyTorchJob, ...).
bool is_workload_kind(std::string_view group, std::string_view kind);
bool is_pod_kind(std::string_view group, std::string_view kind);
bool is_network_policy_kind(std::string_view group, std::string_view kind);

// The Pod itself for kind Pod; every pod template for a workload kind; empty otherwise.
std::vector<pod_site> pod_sites(std::string_view group, std::string_view kind,
                                const rapidjson::Value& object);

// --- inference ---
// The workload type a namespace's roles pin down (training-only or inference-only).
std::optional<std::string_view> namespace_workload_type(const namespace_roles& roles);
// Values the label may take here; empty when the namespace is not an ML namespace.
std::vector<std::string_view> allowed_workload_types(const namespace_roles& roles);
// Training or inference for a controller kind (PyTorchJob, Job, InferenceService, ...).
std::optional<std::string_view> owner_kind_workload_type(std::string_view kind);
// metadata.ownerReferences[controller=true].kind, "" when none.
std::string_view controller_owner_kind(const rapidjson::Value* metadata);

struct workload_signal {
  std::string value;       // training | inference
  std::string annotation;  // e.g. "owner:PyTorchJob", the value of source_annotation
  std::string text;        // e.g. "owner PyTorchJob", for messages
};

struct inference_result {
  std::optional<std::string> value;  // set when the signals agree
  std::string annotation;            // of the first (strongest) signal
  std::string text;
  std::vector<workload_signal> signals;  // every signal seen, strongest first
  bool conflict() const { return !value && !signals.empty(); }
};

// Signals in order: (1) the namespace is training-only or inference-only, (2) the controlling
// owner's kind, (3) well-known labels. Disagreeing signals infer nothing.
inference_result infer_workload_type(const namespace_roles& roles, std::string_view namespace_name,
                                     std::string_view owner_kind, const rapidjson::Value* metadata);

}  // namespace mlnetpol::policy
