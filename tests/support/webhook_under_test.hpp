#pragma once
// The label webhook as `serve` wires it (a configuration snapshot the app replaces on reload and an
// optional namespace lookup), for the admission tests and the fuzz targets.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "admission/label_webhook.hpp"
#include "common/snapshot.hpp"
#include "policy/config.hpp"
#include "policy/namespace_lookup.hpp"

namespace mlnetpol::testing {

// The namespace lookup of a replica with a controller: labels and the policy set per namespace,
// as its cache and renders would know them. A namespace without an entry in `sets` has no recorded
// set (its pods are gated).
class controller_lookup final : public policy::namespace_lookup {
 public:
  std::map<std::string, policy::label_map, std::less<>> labels;
  std::map<std::string, policy::policy_set_state, std::less<>> sets;
  std::shared_ptr<const policy::label_map> labels_of(std::string_view name) const override {
    const auto it = labels.find(name);
    if (it == labels.end()) return nullptr;
    return std::make_shared<const policy::label_map>(it->second);
  }
  std::optional<policy::policy_set_state> policy_set_of(std::string_view name) const override {
    const auto it = sets.find(name);
    return it == sets.end() ? policy::policy_set_state{"", "expected"} : it->second;
  }
};

class policy_handlers {
 public:
  explicit policy_handlers(policy::config initial,
                           const policy::namespace_lookup* namespaces = nullptr)
      : config_(std::move(initial)), webhook_(config_, namespaces) {}
  admission::handler& mutate() { return webhook_.mutate(); }
  admission::handler& validate() { return webhook_.validate(); }
  void update_config(policy::config next) { config_.set(std::move(next)); }
  std::shared_ptr<const policy::config> current_config() const { return config_.get(); }

 private:
  snapshot<policy::config> config_;
  admission::label_webhook webhook_;
};

}  // namespace mlnetpol::testing
