#include "controller/plan_writes.hpp"

namespace mlnetpol::controller {

std::string describe(const k8s::api_error& e) {
  std::string out = e.verb + " " + e.resource + ": " + e.message;
  if (e.status != 0) out += " (HTTP " + std::to_string(e.status) + ")";
  return out;
}

plan_result write_plan(cluster& api, const object_plan& plan, const plan_hooks& hooks) {
  plan_result out;
  for (const auto* d : plan.apply) {
    auto done = api.apply(hooks.resource_of(d->kind), "", d->name, d->json);
    if (!done) {
      out.error = done.error();
      return out;
    }
    hooks.written(*d, done->resource_version);
    ++out.applied;
  }
  for (const auto& repair : plan.replace) {
    const auto& d = *repair.desired;
    auto done = api.replace(hooks.resource_of(d.kind), "", d.name,
                            replacement_body(d, repair.live.resource_version));
    if (!done) {
      out.error = done.error();
      return out;
    }
    hooks.written(d, done->resource_version);
    ++out.applied;
    if (hooks.repaired) hooks.repaired(repair);
  }
  // The last listed first: a binding before the policy it names.
  for (auto it = plan.prune.rbegin(); it != plan.prune.rend(); ++it) {
    auto done = api.remove(hooks.resource_of(it->kind), "", it->name);
    if (!done && done.error().kind != k8s::failure_kind::not_found) {
      out.error = done.error();
      return out;
    }
    ++out.pruned;
  }
  return out;
}

}  // namespace mlnetpol::controller
