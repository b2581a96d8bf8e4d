#pragma once
// The kinds mlnetpol handles: where pods and pod templates sit in an admitted object, and the
// closed list of kinds metric labels may name (so request data cannot create new series).
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <boost/container/small_vector.hpp>

#include "policy/mutation.hpp"

namespace mlnetpol::policy {

// A workload kind whose pod templates the engine handles, and where they sit.
struct workload_kind {
  std::string_view group;
  std::string_view kind;
  std::string_view plural;  // the API resource (admission policies match resources)
  // Path to the pod template, or (replica_specs) to the map of replica specs holding templates.
  std::array<std::string_view, 4> path;
  std::size_t path_size;
  bool replica_specs;
  // The path leads to the object whose own labels map is the label site, not to a pod template:
  // a TrainJob's spec, whose labels and annotations go to the JobSet and Jobs it creates. No pod
  // spec there (no hostNetwork); its pods are judged when they are created.
  bool labels_at_path = false;
};
// Every one of them (Deployment, Job, PyTorchJob, ...).
std::span<const workload_kind> workload_kinds();

// Workload kinds whose pod templates the engine handles (Deployment, Job, PyTorchJob, ...).
bool is_workload_kind(std::string_view group, std::string_view kind);
bool is_pod_kind(std::string_view group, std::string_view kind);
bool is_network_policy_kind(std::string_view group, std::string_view kind);

// A pod or a pod template inside an admitted object.
struct pod_site {
  path_steps metadata_path;   // from the object root to the metadata object
  std::string template_path;  // "spec.template", "spec.labels" (TrainJob), "" for the Pod itself
  const rapidjson::Value* metadata = nullptr;  // null when the template has no metadata yet
  const rapidjson::Value* spec = nullptr;
  // A labels_at_path kind's site: metadata is the object holding the maps, and only its labels
  // and annotations are the site (the rest of it is no pod template's).
  bool maps_only = false;
};

// Where the site's labels map sits, for messages: "metadata.labels",
// "spec.template.metadata.labels", "spec.labels".
std::string labels_path(const pod_site& site);

// A Pod's own site without metadata_path (no allocation), for the checks, which write no patch.
pod_site pod_own_site(const rapidjson::Value& pod);

// A Pod and most workloads have one site: kept inline.
using pod_site_list = boost::container::small_vector<pod_site, 1>;
// The Pod itself for kind Pod; every pod template for a workload kind; empty otherwise.
pod_site_list pod_sites(std::string_view group, std::string_view kind,
                        const rapidjson::Value& object);

bool is_handled_kind(std::string_view kind);

// kind when handled, else "other" ("" stays "": a request whose kind could not be read).
std::string_view kind_label(std::string_view kind);
// kind_label's answers numbered ("" 0, "other" 1, a handled kind 2 + its place), so a metric can
// keep a slot per label value instead of looking the value up.
inline constexpr std::size_t kind_label_count = 22;
std::size_t kind_label_index(std::string_view kind);

}  // namespace mlnetpol::policy
