#pragma once
// Workload-type inference: which of training or inference an object's signals point to.
#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/namespaces.hpp"

namespace mlnetpol::policy {

// The workload type a namespace's roles pin down (training-only or inference-only).
std::optional<std::string_view> namespace_workload_type(const namespace_roles& roles);
// Values the label may take here; empty when the namespace is not an ML namespace.
std::vector<std::string_view> allowed_workload_types(const namespace_roles& roles);
// The same values in place, for the request path (no allocation per request).
struct workload_types {
  std::array<std::string_view, 2> values;
  std::size_t size = 0;
  std::span<const std::string_view> view() const { return {values.data(), size}; }
  bool contains(std::string_view v) const {
    return std::find(values.begin(), values.begin() + size, v) != values.begin() + size;
  }
};
workload_types allowed_workload_type_set(const namespace_roles& roles);
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
  // Every signal seen, strongest first, when they disagree (for the message that says so); empty
  // when they agree, since then the first one's annotation and text are all a decision uses.
  std::vector<workload_signal> signals;
  bool conflict() const { return !value && !signals.empty(); }
};

// Signals in order: (1) the namespace is training-only or inference-only, (2) the controlling
// owner's kind, (3) well-known labels. Disagreeing signals infer nothing.
// with_text false: the agreeing result's text stays empty (only audit notes read it).
inference_result infer_workload_type(const namespace_roles& roles, std::string_view namespace_name,
                                     std::string_view owner_kind, const rapidjson::Value* metadata,
                                     bool with_text = true);
// infer_workload_type(...).conflict() without making any text (a denial only names the signals
// when they disagree).
bool workload_signals_conflict(const namespace_roles& roles, std::string_view namespace_name,
                               std::string_view owner_kind, const rapidjson::Value* metadata);

}  // namespace mlnetpol::policy
