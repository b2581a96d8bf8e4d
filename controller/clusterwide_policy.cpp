#include "controller/clusterwide_policy.hpp"

#include <vector>

#include "common/obs/logging.hpp"
#include "common/text.hpp"
#include "controller/api_failures.hpp"
#include "controller/plan_writes.hpp"
#include "controller/reconciler.hpp"
#include "policy/render/clusterwide.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

const k8s::resource& resource() {
  return k8s::cilium_clusterwide_network_policies;
}

}  // namespace

clusterwide_policy_keeper::clusterwide_policy_keeper(cluster& api, cluster& writes,
                                                     std::function<bool()> leader,
                                                     informer_options options)
    : writes_(writes), leader_(std::move(leader)) {
  informer_ = std::make_unique<informer>(
      api, resource(), managed_selector(),
      informer_handlers{
          [this](std::vector<k8s::object_meta>&& items) { on_list(std::move(items)); },
          [this](const k8s::watch_event& e) { on_event(e); },
          [this](const k8s::api_error& e, bool listing) { on_error(e, listing); }},
      options);
}

clusterwide_policy_keeper::~clusterwide_policy_keeper() {
  request_stop();
  join();
}

void clusterwide_policy_keeper::start() {
  informer_->start();
}

void clusterwide_policy_keeper::request_stop() {
  informer_->request_stop();
}

void clusterwide_policy_keeper::join() {
  informer_->join();
}

clusterwide_policy_status clusterwide_policy_keeper::sync(const policy::config& cfg) {
  std::lock_guard serial(sync_mutex_);
  {
    std::lock_guard lock(mutex_);
    cfg_ = cfg;
  }
  const auto desired = policy::render_clusterwide(cfg);
  clusterwide_policy_status next;
  next.state = desired.empty() ? "absent" : "in_place";
  auto page = writes_.list_all(resource(), "", managed_selector());
  if (!page) {
    if (page.error().kind != k8s::failure_kind::crd_missing) {
      next.state = "error";
      next.message = describe(page.error());
    } else if (!desired.empty()) {
      next.state = "crd_missing";
      next.message =
          "the CiliumClusterwideNetworkPolicy CRD is not installed: secured namespaces are not "
          "default deny before their own policies are stored (the scheduling gate holds their "
          "pods until then)";
    }
  } else {
    std::vector<observed_object> observed;
    std::string written;
    {
      std::lock_guard lock(mutex_);
      written = written_;
    }
    for (const auto& item : page->items) {
      observed.push_back(observe(item, resource().kind,
                                 item.name == policy::clusterwide_policy_name ? written : ""));
    }
    const plan_result wrote = write_plan(
        writes_, plan_objects(desired, observed),
        {[](std::string_view) -> const k8s::resource& { return resource(); },
         [&](const policy::rendered_object&, const std::string& version) {
           std::lock_guard lock(mutex_);
           written_ = version;
         },
         [](const object_repair& r) {
           logging::event(level::warn, "repaired the cluster-wide policy someone else wrote",
                          {{"name", r.desired->name},
                           {"previous_managers", text::join(r.live.writers, ", ")}});
         }});
    note_writes(next, wrote);
  }

  const clusterwide_policy_status previous = status_.exchange(next);
  log_sync({"cluster-wide policy", "crd_missing", "cluster-wide policy not applied"}, next,
           next.state != previous.state, [&] {
             logging::event(level::info,
                            next.state == "in_place" ? "cluster-wide policy in place"
                                                     : "no cluster-wide policy in this mode",
                            {{"name", policy::clusterwide_policy_name}});
           });
  return next;
}

clusterwide_policy_status clusterwide_policy_keeper::status() const {
  return status_.get();
}

void clusterwide_policy_keeper::resync() {
  std::optional<policy::config> cfg;
  {
    std::lock_guard lock(mutex_);
    cfg = cfg_;
  }
  // Before the first pass nothing is in force: the pass brings it.
  if (cfg && leader_()) sync(*cfg);
}

// A (re)list: the CRD may have been installed meanwhile, or the watch had a gap.
void clusterwide_policy_keeper::on_list(std::vector<k8s::object_meta>&&) {
  resync();
}

void clusterwide_policy_keeper::on_event(const k8s::watch_event& e) {
  {
    // Our own write coming back needs nothing. (A delete, ours or not, costs one list.)
    std::lock_guard lock(mutex_);
    if (e.event_type != k8s::watch_event::type::deleted && !written_.empty() &&
        e.object.resource_version == written_)
      return;
  }
  resync();
}

void clusterwide_policy_keeper::on_error(const k8s::api_error& e, bool listing) {
  if (e.kind == k8s::failure_kind::crd_missing) return;  // the sync says so, once
  log_informer_error(resource(), e, listing);
}

}  // namespace mlnetpol::controller
