#pragma once
// The controller as one of serve's runnables: started after the server with the configuration in
// force, stopped after the drain (workers finish, the leader releases its Lease). It is also the
// label webhook's namespace lookup: labels come from the API server's namespaces, never from
// request bodies; without a reconciler (admission-only) no per-namespace override is honoured.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admission/review.hpp"
#include "app/runnable.hpp"
#include "common/flags.hpp"
#include "common/obs/metrics.hpp"
#include "common/result.hpp"
#include "common/snapshot.hpp"
#include "controller/serve.hpp"
#include "policy/config.hpp"
#include "policy/namespace_lookup.hpp"

namespace mlnetpol::app {

// serve's reconciler flags; the defaults are the controller's (controller::reconciler_options).
struct reconciler_flags {
  std::string kubeconfig;  // empty: in-cluster, when in a pod
  bool reconcile = true;
  controller::reconciler_options reconciler;
};

// The reconciler's flags on serve's one parser: --kubeconfig FILE, --reconcile[=true|false],
// --events[=true|false],
// --resync-period 10m, --leader-elect-lease-duration 15s, --leader-elect-renew-deadline 10s,
// --leader-elect-retry-period 2s, --prune-guard-percent 10, --prune-guard-namespaces 50. check()
// after parsing: the leader-election timing rules.
void declare(flags::parser& p, reconciler_flags& flags);
result<void> check(const reconciler_flags& flags);
std::string reconciler_flags_usage();

class reconciler_runnable final : public runnable, public policy::namespace_lookup {
 public:
  // rest: the cluster access serve loaded; nullopt: none (admission-only). Without it, or with
  // --reconcile=false, start() starts nothing and says so in one log line.
  reconciler_runnable(reconciler_flags flags, std::optional<k8s::rest_config> rest,
                      const snapshot<policy::config>& config);
  ~reconciler_runnable() override;

  std::string_view name() const override { return "reconciler"; }
  void start() override;
  void stop() override;
  void draining() override;

  std::shared_ptr<const policy::label_map> labels_of(std::string_view namespace_name) const override;
  // From the manager's cache and renders (every replica, leader or not); nullopt admission-only.
  std::optional<policy::policy_set_state> policy_set_of(
      std::string_view namespace_name) const override;

  // "" when ready; the reason otherwise (/readyz waits for the first namespace list).
  std::string not_ready() const;
  // The controller's /status document, "" when admission-only.
  std::string status_json() const;
  void render_metrics(std::string& out) const;
  void update_config(const policy::config& cfg);
  // An admission denial becomes a Warning Event (queued; the request never waits for it). Every
  // replica reports its own denials; nothing without cluster access or with --events=false.
  void record_denial(const admission::review_outcome& outcome) const;
  bool running() const { return current() != nullptr; }  // false when admission-only
  bool leader() const {
    auto m = current();
    return m && m->leader();
  }

 private:
  reconciler_flags flags_;
  std::optional<k8s::rest_config> rest_;
  const snapshot<policy::config>& config_;
  std::shared_ptr<controller::manager> manager_;  // set once by start(), read by request threads
  std::shared_ptr<controller::manager> current() const { return std::atomic_load(&manager_); }
};

}  // namespace mlnetpol::app
