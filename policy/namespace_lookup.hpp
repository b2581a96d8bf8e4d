#pragma once
// Where the label engine learns a namespace's labels (for the mlnetpol.io/enforcement override):
// from the Kubernetes API through the controller's namespace cache, never from request bodies.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "policy/scheduling_gate.hpp"

namespace mlnetpol::policy {

using label_map = std::map<std::string, std::string>;

class namespace_lookup {
 public:
  virtual ~namespace_lookup() = default;
  // The namespace's labels as last seen on the API server; null when unknown (not synced yet,
  // or no cluster access: then no per-namespace override is honoured).
  virtual std::shared_ptr<const label_map> labels_of(std::string_view namespace_name) const = 0;
  // The namespace's recorded and expected policy sets, for the scheduling gate; nullopt when no
  // controller runs here (nothing would release a gate, so none is added).
  virtual std::optional<policy_set_state> policy_set_of(std::string_view namespace_name) const {
    (void)namespace_name;
    return std::nullopt;
  }
};

}  // namespace mlnetpol::policy
