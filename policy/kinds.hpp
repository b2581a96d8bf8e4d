#pragma once
// The closed list of kinds mlnetpol handles (admitted workloads, namespaces and the network
// policies it renders). Metric labels use it so request data cannot create new series.
#include <string_view>

namespace mlnetpol::policy {

bool is_handled_kind(std::string_view kind);

// kind when handled, else "other" ("" stays "": a request whose kind could not be read).
std::string_view kind_label(std::string_view kind);

}  // namespace mlnetpol::policy
