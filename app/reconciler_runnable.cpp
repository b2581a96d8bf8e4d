#include "app/reconciler_runnable.hpp"

#include <charconv>
#include <cstdint>
#include <functional>
#include <utility>

#include "common/obs/logging.hpp"

namespace mlnetpol::app {
namespace {

// A whole number from 0 to max, for flag `name`.
flags::parser::value_fn whole_number(std::string name, std::uint64_t max,
                                     std::function<void(std::uint64_t)> set) {
  return [name = std::move(name), max, set = std::move(set)](std::string_view v) -> std::string {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n > max)
      return name + ": not a whole number from 0 to " + std::to_string(max) + ": '" +
             std::string(v) + "'";
    set(n);
    return {};
  };
}

}  // namespace

void declare(flags::parser& p, reconciler_flags& flags) {
  controller::manager_options& m = flags.reconciler.manager;
  p.value("--kubeconfig",
          [&flags](std::string_view v) -> std::string {
            if (v.empty()) return "--kubeconfig: missing value";
            flags.kubeconfig = v;
            return {};
          })
      .boolean("--reconcile", flags.reconcile)  // a bare --reconcile means true, like Go's
      .boolean("--events", flags.reconciler.events)
      .duration("--resync-period", m.resync_period, /*positive=*/true)
      .duration("--leader-elect-lease-duration", m.election.lease_duration, /*positive=*/true)
      .duration("--leader-elect-renew-deadline", m.election.renew_deadline, /*positive=*/true)
      .duration("--leader-elect-retry-period", m.election.retry_period, /*positive=*/true)
      .value("--prune-guard-percent",
             whole_number("--prune-guard-percent", 100,
                          [&m](std::uint64_t n) { m.guard.max_percent = static_cast<unsigned>(n); }))
      .value("--prune-guard-namespaces",
             whole_number("--prune-guard-namespaces", 1'000'000'000, [&m](std::uint64_t n) {
               m.guard.max_namespaces = static_cast<std::size_t>(n);
             }));
}

result<void> check(const reconciler_flags& flags) {
  const auto& e = flags.reconciler.manager.election;
  // client-go's rules: the lease outlives the renew deadline, which outlives a retry (with jitter).
  if (e.lease_duration <= e.renew_deadline)
    return fail("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline");
  if (e.renew_deadline.count() <= e.retry_period.count() * 12 / 10)
    return fail(
        "--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period");
  return {};
}

// The defaults named here are the controller's struct defaults; tests/app/reconciler_runnable_test
// compares the two.
std::string reconciler_flags_usage() {
  return "reconciler flags:\n"
         "  --kubeconfig FILE                  cluster access outside a pod (in a pod: the "
         "service\n"
         "                                     account); without either, serve is admission-only\n"
         "  --reconcile=true|false             keep labels and policies in the cluster (default "
         "true)\n"
         "  --events=true|false                Kubernetes Events on denials and on policy "
         "sets\n"
         "                                     applied or failing, rate-limited (default true)\n"
         "  --resync-period D                  full pass over every secured namespace (default "
         "10m)\n"
         "  --leader-elect-lease-duration D    (default 15s)\n"
         "  --leader-elect-renew-deadline D    (default 10s)\n"
         "  --leader-elect-retry-period D      (default 2s)\n"
         "  --prune-guard-percent P            hold a configuration change that would remove the\n"
         "                                     policies of more than P % of the namespaces "
         "holding\n"
         "                                     them (default 10) ...\n"
         "  --prune-guard-namespaces N         ... or of more than N namespaces (default 50), "
         "until\n"
         "                                     confirmed (docs/operations.md)\n";
}

reconciler_runnable::reconciler_runnable(reconciler_flags flags,
                                         std::optional<k8s::rest_config> rest,
                                         const snapshot<policy::config>& config)
    : flags_(std::move(flags)), rest_(std::move(rest)), config_(config) {}

reconciler_runnable::~reconciler_runnable() {
  stop();
}

void reconciler_runnable::start() {
  namespace logging = obs::logging;
  if (!flags_.reconcile) {
    logging::event(spdlog::level::info,
                   "reconciler off (--reconcile=false): admission only, no policies are kept in "
                   "the cluster",
                   {});
    return;
  }
  if (!rest_) {
    logging::event(spdlog::level::info,
                   "no cluster access (no --kubeconfig, not in a pod): admission only, no "
                   "policies are kept in the cluster",
                   {});
    return;
  }
  std::shared_ptr<controller::manager> m = controller::make_reconciler(flags_.reconciler, *rest_);
  m->update_config(*config_.get());
  m->start();
  std::atomic_store(&manager_, std::move(m));
}

void reconciler_runnable::draining() {
  if (auto m = current()) m->step_down();
}

void reconciler_runnable::stop() {
  if (auto m = current()) m->stop();
}

std::shared_ptr<const policy::label_map> reconciler_runnable::labels_of(
    std::string_view namespace_name) const {
  auto m = current();
  return m ? m->namespaces().labels_of(namespace_name) : nullptr;
}

std::optional<policy::policy_set_state> reconciler_runnable::policy_set_of(
    std::string_view namespace_name) const {
  auto m = current();
  if (!m) return std::nullopt;
  return m->policy_set_of(namespace_name);
}

std::string reconciler_runnable::not_ready() const {
  auto m = current();
  return m && !m->synced() ? "namespace cache not synced" : "";
}

std::string reconciler_runnable::status_json() const {
  auto m = current();
  return m ? m->status_json() : std::string();
}

void reconciler_runnable::render_metrics(std::string& out) const {
  if (auto m = current()) out += m->metrics_text();
}

void reconciler_runnable::record_denial(const admission::review_outcome& outcome) const {
  auto m = current();
  if (!m || m->events() == nullptr) return;
  auto event = controller::denial_event(outcome.group, outcome.version, outcome.kind,
                                        outcome.namespace_name, outcome.name, outcome.message);
  if (event) m->record_event(std::move(*event));
}

void reconciler_runnable::update_config(const policy::config& cfg) {
  if (auto m = current()) m->update_config(cfg);
}

}  // namespace mlnetpol::app
