#include "policy/kinds.hpp"

#include <algorithm>
#include <array>

#include "common/json.hpp"

namespace mlnetpol::policy {

namespace {

using json::json_member;

constexpr std::array<workload_kind, 13> workload_kind_table{{
    {"apps", "Deployment", "deployments", {"spec", "template"}, 2, false},
    {"apps", "StatefulSet", "statefulsets", {"spec", "template"}, 2, false},
    {"apps", "DaemonSet", "daemonsets", {"spec", "template"}, 2, false},
    {"apps", "ReplicaSet", "replicasets", {"spec", "template"}, 2, false},
    {"batch", "Job", "jobs", {"spec", "template"}, 2, false},
    {"batch", "CronJob", "cronjobs", {"spec", "jobTemplate", "spec", "template"}, 4, false},
    // Kubeflow training operator: spec.<kind>ReplicaSpecs.<replica type>.template.
    {"kubeflow.org", "PyTorchJob", "pytorchjobs", {"spec", "pytorchReplicaSpecs"}, 2, true},
    {"kubeflow.org", "TFJob", "tfjobs", {"spec", "tfReplicaSpecs"}, 2, true},
    {"kubeflow.org", "MPIJob", "mpijobs", {"spec", "mpiReplicaSpecs"}, 2, true},
    {"kubeflow.org", "XGBoostJob", "xgboostjobs", {"spec", "xgbReplicaSpecs"}, 2, true},
    {"kubeflow.org", "PaddleJob", "paddlejobs", {"spec", "paddleReplicaSpecs"}, 2, true},
    {"kubeflow.org", "JAXJob", "jaxjobs", {"spec", "jaxReplicaSpecs"}, 2, true},
    // Kubeflow Trainer v2: no pod template; spec.labels go to the JobSet and Jobs it creates.
    {"trainer.kubeflow.org", "TrainJob", "trainjobs", {"spec"}, 1, false, true},
}};

const workload_kind* find_workload_kind(std::string_view group, std::string_view kind) {
  for (const auto& w : workload_kind_table) {
    if (w.group == group && w.kind == kind) return &w;
  }
  return nullptr;
}

std::string join_path(const path_steps& path) {
  std::string out;
  for (const auto& step : path) {
    if (!out.empty()) out += '.';
    out += step;
  }
  return out;
}

pod_site site_at(const rapidjson::Value& tmpl, path_steps path) {
  pod_site site = pod_own_site(tmpl);
  site.template_path = join_path(path);
  path.emplace_back("metadata");
  site.metadata_path = std::move(path);
  return site;
}

constexpr std::array<std::string_view, 20> handled_kinds{"Pod",
                                                         "Namespace",
                                                         "Deployment",
                                                         "StatefulSet",
                                                         "DaemonSet",
                                                         "ReplicaSet",
                                                         "Job",
                                                         "CronJob",
                                                         "PyTorchJob",
                                                         "TFJob",
                                                         "MPIJob",
                                                         "XGBoostJob",
                                                         "PaddleJob",
                                                         "JAXJob",
                                                         "TrainJob",
                                                         "InferenceService",
                                                         "ServingRuntime",
                                                         "NetworkPolicy",
                                                         "CiliumNetworkPolicy",
                                                         "CiliumClusterwideNetworkPolicy"};

}  // namespace

std::span<const workload_kind> workload_kinds() {
  return workload_kind_table;
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

pod_site pod_own_site(const rapidjson::Value& pod) {
  pod_site site;
  site.metadata = json_member(&pod, "metadata");
  if (site.metadata && !site.metadata->IsObject()) site.metadata = nullptr;
  site.spec = json_member(&pod, "spec");
  return site;
}

pod_site_list pod_sites(std::string_view group, std::string_view kind,
                        const rapidjson::Value& object) {
  pod_site_list sites;
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
  path_steps path;
  for (std::size_t i = 0; i < w->path_size && at != nullptr; ++i) {
    at = json_member(at, w->path[i]);
    path.emplace_back(w->path[i]);
  }
  if (at == nullptr || !at->IsObject()) return sites;
  if (w->labels_at_path) {
    pod_site site;
    site.template_path = join_path(path) + ".labels";
    site.metadata = at;
    site.metadata_path = std::move(path);
    site.maps_only = true;
    sites.push_back(std::move(site));
    return sites;
  }
  if (!w->replica_specs) {
    sites.push_back(site_at(*at, std::move(path)));
    return sites;
  }
  sites.reserve(at->MemberCount());
  for (const auto& replica : at->GetObject()) {
    const rapidjson::Value* tmpl = json_member(&replica.value, "template");
    if (tmpl == nullptr || !tmpl->IsObject()) continue;
    // Inline (path_steps): thousands of replica specs in a hostile request cost no malloc per
    // step.
    path_steps replica_path = path;
    replica_path.emplace_back(replica.name.GetString(), replica.name.GetStringLength());
    replica_path.emplace_back("template");
    sites.push_back(site_at(*tmpl, std::move(replica_path)));
  }
  return sites;
}

std::string labels_path(const pod_site& site) {
  return join_path(site.metadata_path) + ".labels";
}

bool is_handled_kind(std::string_view kind) {
  return std::find(handled_kinds.begin(), handled_kinds.end(), kind) != handled_kinds.end();
}

std::string_view kind_label(std::string_view kind) {
  if (kind.empty() || is_handled_kind(kind)) return kind;
  return "other";
}

static_assert(kind_label_count == 2 + handled_kinds.size());

std::size_t kind_label_index(std::string_view kind) {
  if (kind.empty()) return 0;
  const auto it = std::find(handled_kinds.begin(), handled_kinds.end(), kind);
  return it == handled_kinds.end() ? 1 : 2 + static_cast<std::size_t>(it - handled_kinds.begin());
}

}  // namespace mlnetpol::policy
