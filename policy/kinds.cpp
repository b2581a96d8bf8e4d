#include "policy/kinds.hpp"

#include <algorithm>
#include <array>

namespace mlnetpol::policy {

namespace {

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

bool is_handled_kind(std::string_view kind) {
  return std::find(handled_kinds.begin(), handled_kinds.end(), kind) != handled_kinds.end();
}

std::string_view kind_label(std::string_view kind) {
  if (kind.empty() || is_handled_kind(kind)) return kind;
  return "other";
}

}  // namespace mlnetpol::policy
