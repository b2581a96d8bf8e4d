#pragma once
// How the keepers of cluster-scoped objects (admission_policies.hpp, clusterwide_policy.hpp) write
// an object_plan: missing objects created by server-side apply, differing ones replaced whole, then
// the ones no longer rendered deleted (the last listed first); stops at the first refused call (a
// delete of an object already gone is not one).
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "controller/cluster.hpp"
#include "controller/reconciler.hpp"

namespace mlnetpol::controller {

struct plan_hooks {
  std::function<const k8s::resource&(std::string_view kind)> resource_of;
  // After each apply or replace, with the resourceVersion it returned.
  std::function<void(const policy::rendered_object&, const std::string& resource_version)> written;
  std::function<void(const object_repair&)> repaired;  // after a replace (optional)
};

struct plan_result {
  std::size_t applied = 0;  // created or replaced
  std::size_t pruned = 0;
  std::optional<k8s::api_error> error;  // the refused call, when one was
};

plan_result write_plan(cluster& api, const object_plan& plan, const plan_hooks& hooks);

// "verb resource: message (HTTP status)", for a keeper's status and log line.
std::string describe(const k8s::api_error& e);

}  // namespace mlnetpol::controller
