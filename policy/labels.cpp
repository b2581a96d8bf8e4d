#include "policy/labels.hpp"

#include <algorithm>
#include <array>

namespace mlnetpol::policy {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters.
bool is_name_part(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

struct workload_kind {
  std::string_view group;
  std::string_view kind;
  // Path to the pod template, or (replica_specs) to the map of replica specs holding templates.
  std::array<std::string_view, 4> path;
  std::size_t path_size;
  bool replica_specs;
};

constexpr std::array<workload_kind, 12> workload_kinds{{
    {"apps", "Deployment", {"spec", "template"}, 2, false},
    {"apps", "StatefulSet", {"spec", "template"}, 2, false},
    {"apps", "DaemonSet", {"spec", "template"}, 2, false},
    {"apps", "ReplicaSet", {"spec", "template"}, 2, false},
    {"batch", "Job", {"spec", "template"}, 2, false},
    {"batch", "CronJob", {"spec", "jobTemplate", "spec", "template"}, 4, false},
    // Kubeflow training operator: spec.<kind>ReplicaSpecs.<replica type>.template.
    {"kubeflow.org", "PyTorchJob", {"spec", "pytorchReplicaSpecs"}, 2, true},
    {"kubeflow.org", "TFJob", {"spec", "tfReplicaSpecs"}, 2, true},
    {"kubeflow.org", "MPIJob", {"spec", "mpiReplicaSpecs"}, 2, true},
    {"kubeflow.org", "XGBoostJob", {"spec", "xgbReplicaSpecs"}, 2, true},
    {"kubeflow.org", "PaddleJob", {"spec", "paddleReplicaSpecs"}, 2, true},
    {"kubeflow.org", "JAXJob", {"spec", "jaxReplicaSpecs"}, 2, true},
}};

const workload_kind* find_workload_kind(std::string_view group, std::string_view kind) {
  for (const auto& w : workload_kinds) {
    if (w.group == group && w.kind == kind) return &w;
  }
  return nullptr;
}

std::string join_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& step : path) {
    if (!out.empty()) out += '.';
    out += step;
  }
  return out;
}

pod_site site_at(const rapidjson::Value& tmpl, std::vector<std::string> path) {
  pod_site site;
  site.template_path = join_path(path);
  site.metadata = json_member(&tmpl, "metadata");
  if (site.metadata && !site.metadata->IsObject()) site.metadata = nullptr;
  site.spec = json_member(&tmpl, "spec");
  path.emplace_back("metadata");
  site.metadata_path = std::move(path);
  return site;
}

}  // namespace

bool is_dns1123_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view part =
        s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!is_dns1123_label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_qualified_name(std::string_view s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return is_name_part(s);
  return is_dns1123_subdomain(s.substr(0, slash)) && is_name_part(s.substr(slash + 1));
}

bool is_label_value(std::string_view s) {
  return s.empty() || is_name_part(s);
}

const rapidjson::Value* json_member(const rapidjson::Value* v, std::string_view key) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  const auto it = v->FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
  return it == v->MemberEnd() ? nullptr : &it->value;
}

std::string_view json_string(const rapidjson::Value* v) {
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

std::optional<std::string_view> map_value(const rapidjson::Value* metadata,
                                          std::string_view map_name, std::string_view key) {
  const rapidjson::Value* value = json_member(json_member(metadata, map_name), key);
  if (value == nullptr || !value->IsString()) return std::nullopt;
  return std::string_view{value->GetString(), value->GetStringLength()};
}

bool is_workload_kind(std::string_view group, std::string_view kind) {
  return find_workload_kind(group, kind) != nullptr;
}

bool is_pod_kind(std::string_view group, std::string_view kind) {
  return group.empty() && kind == "Pod";
}

bool is_network_policy_kind(std::string_view group, std::string_view kind) {
  return (group == "networking.k8s.io" && kind == "NetworkPolicy") ||
         (group == "cilium.io" &&
          (kind == "CiliumNetworkPolicy" || kind == "CiliumClusterwideNetworkPolicy"));
}

std::vector<pod_site> pod_sites(std::string_view group, std::string_view kind,
                                const rapidjson::Value& object) {
  std::vector<pod_site> sites;
  if (!object.IsObject()) return sites;
  if (is_pod_kind(group, kind)) {
    pod_site site = site_at(object, {});
    site.template_path.clear();
    sites.push_back(std::move(site));
    return sites;
  }
  const workload_kind* w = find_workload_kind(group, kind);
  if (w == nullptr) return sites;
  const rapidjson::Value* at = &object;
  std::vector<std::string> path;
  for (std::size_t i = 0; i < w->path_size && at != nullptr; ++i) {
    at = json_member(at, w->path[i]);
    path.emplace_back(w->path[i]);
  }
  if (at == nullptr || !at->IsObject()) return sites;
  if (!w->replica_specs) {
    sites.push_back(site_at(*at, std::move(path)));
    return sites;
  }
  sites.reserve(at->MemberCount());
  for (const auto& replica : at->GetObject()) {
    const rapidjson::Value* tmpl = json_member(&replica.value, "template");
    if (tmpl == nullptr || !tmpl->IsObject()) continue;
    // Sized once (+ replica type, "template", "metadata"): thousands of replica specs are common
    // in hostile requests, and each reallocation is a malloc per site.
    std::vector<std::string> replica_path;
    replica_path.reserve(path.size() + 3);
    replica_path = path;
    replica_path.emplace_back(replica.name.GetString(), replica.name.GetStringLength());
    replica_path.emplace_back("template");
    sites.push_back(site_at(*tmpl, std::move(replica_path)));
  }
  return sites;
}

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
  if (const auto value = namespace_workload_type(roles)) {
    result.signals.push_back(
        {std::string(*value), "namespace:" + std::string(namespace_name),
         "namespace " + std::string(namespace_name) + " (" + std::string(*value) + "-only)"});
  }
  if (const auto value = owner_kind_workload_type(owner_kind)) {
    result.signals.push_back({std::string(*value), "owner:" + std::string(owner_kind),
                              "owner " + std::string(owner_kind)});
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
    std::string label(signal.key);
    if (!signal.required_value.empty()) label += "=" + std::string(signal.required_value);
    result.signals.push_back({std::string(signal.type), "label:" + label, "label " + label});
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
