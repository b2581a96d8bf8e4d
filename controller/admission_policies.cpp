#include "controller/admission_policies.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "common/obs/logging.hpp"
#include "controller/plan_writes.hpp"
#include "controller/reconciler.hpp"
#include "policy/render/admission_policies.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

constexpr std::string_view policies_plural = "validatingadmissionpolicies";
constexpr std::string_view bindings_plural = "validatingadmissionpolicybindings";

// The two resources of each version, in the order written (policies before their bindings).
struct version_resources {
  std::string_view api_version;
  std::array<k8s::resource, 2> resources;
};
constexpr std::array<version_resources, 2> versions{{
    {policy::admission_policy_v1,
     {{{policy::admission_policy_group, "v1", policies_plural, policy::admission_policy_kind,
        false},
       {policy::admission_policy_group, "v1", bindings_plural, policy::admission_binding_kind,
        false}}}},
    {policy::admission_policy_v1beta1,
     {{{policy::admission_policy_group, "v1beta1", policies_plural, policy::admission_policy_kind,
        false},
       {policy::admission_policy_group, "v1beta1", bindings_plural, policy::admission_binding_kind,
        false}}}},
}};

}  // namespace

admission_policy_status admission_policy_keeper::sync(const policy::config& cfg) {
  admission_policy_status next;
  const version_resources* served = nullptr;
  for (const auto& v : versions) {
    auto names = api_.served_resources(v.resources[0].group, v.resources[0].version);
    if (!names) {
      next.state = "error";
      next.message = "discovery: " + describe(names.error());
      break;
    }
    if (std::find(names->begin(), names->end(), policies_plural) != names->end()) {
      served = &v;
      break;
    }
  }
  if (served == nullptr && next.state != "error") {
    next.state = "unavailable";
    next.message =
        "the API server serves no ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1 "
        "needs Kubernetes 1.30+, v1beta1 the ValidatingAdmissionPolicy feature gate and "
        "runtime-config): the webhooks are the only enforcement";
  }
  if (served != nullptr) {
    next.state = "served";
    next.api_version = std::string(served->api_version);
    const auto desired = policy::render_admission_policies(cfg, served->api_version);
    next.objects = desired.size();
    std::vector<observed_object> observed;
    for (const auto& r : served->resources) {
      auto page = api_.list_all(r, "", managed_selector());
      if (!page) {
        next.state = "error";
        next.message = describe(page.error());
        break;
      }
      for (const auto& item : page->items) {
        const std::string key = std::string(r.kind) + "/" + item.name;
        std::string written;
        {
          std::lock_guard lock(mutex_);
          if (auto it = written_.find(key); it != written_.end()) written = it->second;
        }
        observed.push_back(observe(item, r.kind, written));
      }
    }
    if (next.state == "served") {
      const object_plan plan = plan_objects(desired, observed);
      const plan_result wrote = write_plan(
          api_, plan,
          {[&](std::string_view kind) -> const k8s::resource& {
             return kind == policy::admission_policy_kind ? served->resources[0]
                                                          : served->resources[1];
           },
           [&](const policy::rendered_object& d, const std::string& version) {
             std::lock_guard lock(mutex_);
             written_[d.kind + "/" + d.name] = version;
           },
           [](const object_repair& r) {
             logging::event(level::warn, "repaired an admission policy object someone else wrote",
                            {{"kind", r.desired->kind}, {"name", r.desired->name}});
           }});
      note_writes(next, wrote);
    }
  }

  const admission_policy_status previous = status_.exchange(next);
  log_sync({"admission policies", "unavailable", "admission policies unavailable"}, next,
           next.state != previous.state || next.api_version != previous.api_version, [&] {
             logging::event(level::info, "admission policies in place",
                            {{"api_version", next.api_version},
                             {"objects", static_cast<std::uint64_t>(next.objects)}});
           });
  return next;
}

admission_policy_status admission_policy_keeper::status() const {
  return status_.get();
}

}  // namespace mlnetpol::controller
