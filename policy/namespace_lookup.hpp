#pragma once
// Where the label engine learns a namespace's labels (for the mlnetpol.io/enforcement override):
// from the Kubernetes API through the controller's namespace cache, never from request bodies.
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace mlnetpol::policy {

using label_map = std::map<std::string, std::string>;

class namespace_lookup {
 public:
  virtual ~namespace_lookup() = default;
  // The namespace's labels as last seen on the API server; null when unknown (not synced yet,
  // or no cluster access: then no per-namespace override is honoured).
  virtual std::shared_ptr<const label_map> labels_of(std::string_view namespace_name) const = 0;
};

}  // namespace mlnetpol::policy
