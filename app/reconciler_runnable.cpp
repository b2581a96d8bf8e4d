#include "app/reconciler_runnable.hpp"

#include <utility>

namespace mlnetpol::app {

reconciler_runnable::reconciler_runnable(controller::serve_flags flags,
                                         std::optional<k8s::rest_config> rest,
                                         const snapshot<policy::config>& config)
    : flags_(std::move(flags)), rest_(std::move(rest)), config_(config) {}

reconciler_runnable::~reconciler_runnable() {
  stop();
}

void reconciler_runnable::start() {
  std::shared_ptr<controller::manager> m = controller::start_reconciler(flags_, rest_, *config_.get());
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
