#include "policy/inference.hpp"

#include <algorithm>
#include <array>

#include "common/json.hpp"
#include "policy/labels.hpp"
#include "policy/text.hpp"

namespace mlnetpol::policy {

using json::json_member;
using json::json_string;

std::optional<std::string_view> namespace_workload_type(const namespace_roles& roles) {
  if (roles.training && !roles.inference) return training_value;
  if (roles.inference && !roles.training) return inference_value;
  return std::nullopt;
}

workload_types allowed_workload_type_set(const namespace_roles& roles) {
  workload_types out;
  if (roles.training) out.values[out.size++] = training_value;
  if (roles.inference) out.values[out.size++] = inference_value;
  return out;
}

std::vector<std::string_view> allowed_workload_types(const namespace_roles& roles) {
  const workload_types types = allowed_workload_type_set(roles);
  return {types.view().begin(), types.view().end()};
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

namespace {

// A signal before any text is made of it: agreeing signals (the common case) only ever need the
// first one's words.
struct signal_ref {
  enum class source { namespace_roles, owner, label };
  std::string_view value;
  source from;
  std::string_view name;            // the namespace, owner kind or label key
  std::string_view required_value;  // of a label signal that needs one
};

// The signal's words; its text only when with_text (a label patch outside audit writes none).
workload_signal describe(const signal_ref& s, bool with_text = true) {
  using source = signal_ref::source;
  workload_signal out;
  out.value = s.value;
  switch (s.from) {
    case source::namespace_roles:
      out.annotation = cat("namespace:", s.name);
      if (with_text) out.text = cat("namespace ", s.name, " (", s.value, "-only)");
      return out;
    case source::owner:
      out.annotation = cat("owner:", s.name);
      if (with_text) out.text = cat("owner ", s.name);
      return out;
    case source::label:
      break;
  }
  const std::string_view equals = s.required_value.empty() ? "" : "=";
  out.annotation = cat("label:", s.name, equals, s.required_value);
  if (with_text) out.text = cat("label ", s.name, equals, s.required_value);
  return out;
}

// Every signal in order, strongest first; the caller reads found[0, count).
struct signal_set {
  std::array<signal_ref, 2 + 5> found;
  std::size_t count = 0;
  bool agree() const {
    return std::all_of(found.begin(), found.begin() + count,
                       [&](const signal_ref& s) { return s.value == found[0].value; });
  }
};

signal_set collect_signals(const namespace_roles& roles, std::string_view namespace_name,
                           std::string_view owner_kind, const rapidjson::Value* metadata) {
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
  static_assert(std::tuple_size_v<decltype(signal_set::found)> == 2 + label_signals.size());
  signal_set out;
  if (const auto value = namespace_workload_type(roles)) {
    out.found[out.count++] = {*value, signal_ref::source::namespace_roles, namespace_name, {}};
  }
  if (const auto value = owner_kind_workload_type(owner_kind)) {
    out.found[out.count++] = {*value, signal_ref::source::owner, owner_kind, {}};
  }
  // One pass over the labels finds every signal's label (the first of a repeated key, as
  // FindMember would): a name is compared in full only with keys of its length.
  std::array<const rapidjson::Value*, label_signals.size()> values{};
  const rapidjson::Value* labels = json_member(metadata, "labels");
  if (labels != nullptr && labels->IsObject()) {
    for (const auto& m : labels->GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      for (std::size_t i = 0; i < label_signals.size(); ++i) {
        if (values[i] == nullptr && name == label_signals[i].key) values[i] = &m.value;
      }
    }
  }
  for (std::size_t i = 0; i < label_signals.size(); ++i) {
    const label_signal& signal = label_signals[i];
    const rapidjson::Value* value = values[i];
    if (value == nullptr || !value->IsString() ||
        (!signal.required_value.empty() && json_string(value) != signal.required_value))
      continue;
    out.found[out.count++] = {signal.type, signal_ref::source::label, signal.key,
                              signal.required_value};
  }
  return out;
}

}  // namespace

inference_result infer_workload_type(const namespace_roles& roles, std::string_view namespace_name,
                                     std::string_view owner_kind, const rapidjson::Value* metadata,
                                     bool with_text) {
  const signal_set signals = collect_signals(roles, namespace_name, owner_kind, metadata);
  inference_result result;
  if (signals.count == 0) return result;
  if (!signals.agree()) {
    result.signals.reserve(signals.count);
    for (std::size_t i = 0; i < signals.count; ++i)
      result.signals.push_back(describe(signals.found[i]));
    return result;
  }
  workload_signal strongest = describe(signals.found[0], with_text);
  result.value = std::move(strongest.value);
  result.annotation = std::move(strongest.annotation);
  result.text = std::move(strongest.text);
  return result;
}

bool workload_signals_conflict(const namespace_roles& roles, std::string_view namespace_name,
                               std::string_view owner_kind, const rapidjson::Value* metadata) {
  const signal_set signals = collect_signals(roles, namespace_name, owner_kind, metadata);
  return signals.count != 0 && !signals.agree();
}

}  // namespace mlnetpol::policy
