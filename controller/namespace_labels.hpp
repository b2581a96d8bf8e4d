#pragma once
// The labels mlnetpol owns on namespaces, as the label engine defines them (policy/labels.hpp).
// Its own translation unit: policy/labels.hpp and policy/render/render.hpp both declare
// policy::managed_by_label with different types, so no file may include both.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/namespace_cache.hpp"
#include "policy/config.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::controller {

struct label_changes {
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && remove.empty(); }
  // {"metadata":{"labels":{"k":"v","gone":null}}}
  std::string merge_patch() const;
};

// What must change on a namespace with `current` labels so it carries exactly the labels mlnetpol
// owns under cfg: mlnetpol.io/secured and role labels (the engine's own keys and values), and the
// workload-type of a single-role namespace unless it already has one. A namespace outside every
// list loses the mlnetpol.io labels.
label_changes namespace_label_changes(const policy::config& cfg, std::string_view namespace_name,
                                      const label_map& current);
// The same for a namespace whose roles are known (namespace_index::roles: constant time).
label_changes namespace_label_changes(const policy::config& cfg,
                                      const policy::namespace_roles& roles,
                                      const label_map& current);

// Carries a label only mlnetpol sets: the namespace is mlnetpol's business (perhaps it left the
// lists and must lose it).
bool has_owned_label(const label_map& labels);

}  // namespace mlnetpol::controller
