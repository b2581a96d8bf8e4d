#include "policy/inference.hpp"

#include <algorithm>
#include <array>

#include "common/json.hpp"
#include "policy/labels.hpp"
#include "policy/text.hpp"

namespace mlnetpol::policy {

using json::json_member;
using json::json_string;
using json::map_value;

std::optional<std::string_view> namespace_workload_type(const namespace_roles& roles) {
  if (roles.training && !roles.inference) return training_value;
  if (roles.inference && !roles.training) return inference_value;
  return std::nullopt;
}

std::vector<std::string_view> allowed_workload_types(const namespace_roles& roles) {
  std::vector<std::string_view> out;
  if (roles.training) out.push_back(training_value);
  if (roles.inference) out.push_back(inference_value);
  return out;
}

std::optional<std::string_view> owner_kind_workload_type(std::string_view kind) {
  static constexpr std::array<std::string_view, 8> training_kinds{
      "PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob", "TrainJob", "Job"};
  static constexpr std::array<std::string_view, 2> inference_kinds{"InferenceService",
                                                                   "ServingRuntime"};
  if (std::find(training_kinds.begin(), training_kinds.end(), kind) != training_kinds.end()) {
    return training_value;
  }
  if (std::find(inference_kinds.begin(), inference_kinds.end(), kind) != inference_kinds.end()) {
    return inference_value;
  }
  return std::nullopt;
}

std::string_view controller_owner_kind(const rapidjson::Value* metadata) {
  const rapidjson::Value* owners = json_member(metadata, "ownerReferences");
  if (owners == nullptr || !owners->IsArray()) return {};
  for (const auto& owner : owners->GetArray()) {
    const rapidjson::Value* controller = json_member(&owner, "controller");
    if (controller != nullptr && controller->IsBool() && controller->GetBool()) {
      return json_string(json_member(&owner, "kind"));
    }
  }
  return {};
}

inference_result infer_workload_type(const namespace_roles& roles, std::string_view namespace_name,
                                     std::string_view owner_kind,
                                     const rapidjson::Value* metadata) {
  inference_result result;
  result.signals.reserve(4);  // namespace, owner and two labels is the common most
  if (const auto value = namespace_workload_type(roles)) {
    result.signals.push_back({std::string(*value), cat("namespace:", namespace_name),
                              cat("namespace ", namespace_name, " (", *value, "-only)")});
  }
  if (const auto value = owner_kind_workload_type(owner_kind)) {
    result.signals.push_back(
        {std::string(*value), cat("owner:", owner_kind), cat("owner ", owner_kind)});
  }
  struct label_signal {
    std::string_view key;
    std::string_view required_value;  // "" = presence is enough
    std::string_view type;
  };
  static constexpr std::array<label_signal, 5> label_signals{{
      {"training.kubeflow.org/job-name", "", training_value},
      {"training.kubeflow.org/replica-type", "", training_value},
      {"serving.kserve.io/inferenceservice", "", inference_value},
      {"seldon-deployment-id", "", inference_value},
      {"app.kubernetes.io/component", "predictor", inference_value},
  }};
  for (const auto& signal : label_signals) {
    const auto value = map_value(metadata, "labels", signal.key);
    if (!value || (!signal.required_value.empty() && *value != signal.required_value)) continue;
    const std::string_view equals = signal.required_value.empty() ? "" : "=";
    result.signals.push_back({std::string(signal.type),
                              cat("label:", signal.key, equals, signal.required_value),
                              cat("label ", signal.key, equals, signal.required_value)});
  }
  if (result.signals.empty()) return result;
  const std::string& first = result.signals.front().value;
  const bool agree = std::all_of(result.signals.begin(), result.signals.end(),
                                 [&](const workload_signal& s) { return s.value == first; });
  if (!agree) return result;
  result.value = first;
  result.annotation = result.signals.front().annotation;
  result.text = result.signals.front().text;
  return result;
}

}  // namespace mlnetpol::policy
