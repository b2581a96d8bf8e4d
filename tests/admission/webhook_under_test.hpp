#pragma once
// The label webhook as `serve` wires it (a configuration snapshot the app replaces on reload and an
// optional namespace lookup), for the admission tests and the fuzz targets.
#include <memory>
#include <utility>

#include "admission/label_webhook.hpp"
#include "common/snapshot.hpp"
#include "policy/config.hpp"
#include "policy/namespace_lookup.hpp"

namespace mlnetpol::admission::testing {

class policy_handlers {
 public:
  explicit policy_handlers(policy::config initial,
                           const policy::namespace_lookup* namespaces = nullptr)
      : config_(std::move(initial)), webhook_(config_, namespaces) {}
  handler& mutate() { return webhook_.mutate(); }
  handler& validate() { return webhook_.validate(); }
  void update_config(policy::config next) { config_.set(std::move(next)); }
  std::shared_ptr<const policy::config> current_config() const { return config_.get(); }

 private:
  snapshot<policy::config> config_;
  label_webhook webhook_;
};

}  // namespace mlnetpol::admission::testing
