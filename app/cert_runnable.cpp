#include "app/cert_runnable.hpp"

#include <atomic>
#include <stdexcept>
#include <utility>

#include "app/shipped_webhooks.hpp"

namespace mlnetpol::app {

cert_runnable::cert_runnable(controller::cert_flags flags, std::optional<k8s::rest_config> rest,
                             const reconciler_runnable& reconciler, install_fn install)
    : flags_(std::move(flags)),
      rest_(std::move(rest)),
      reconciler_(reconciler),
      install_(std::move(install)) {}

cert_runnable::~cert_runnable() {
  stop();
}

void cert_runnable::start() {
  // serve_command loads the cluster access before start and stops when there is none.
  if (!rest_) throw std::logic_error("self-managed certificates without cluster access");
  std::function<bool()> is_leader;
  if (reconciler_.running()) is_leader = [this] { return reconciler_.leader(); };
  controller::webhooks::desired shipped;
  if (flags_.repair_whole) {
    auto rendered = shipped_webhooks(controller::webhook_render_options(flags_));
    // Built from the repository's own manifest: failing here is a build defect, not input.
    if (!rendered)
      throw std::runtime_error("built-in webhook configurations: " + rendered.error().message);
    shipped = std::move(*rendered);
  }
  std::shared_ptr<controller::cert_manager> m = controller::start_cert_manager(
      flags_, *rest_,
      [this](const certs::key_pair& pair) { return install_(pair.cert_pem, pair.key_pem); },
      std::move(is_leader), std::move(shipped));
  std::atomic_store(&manager_, std::move(m));
}

void cert_runnable::stop() {
  if (auto m = current()) m->stop();
}

std::string cert_runnable::not_ready() const {
  auto m = current();
  return m ? m->not_ready() : std::string("certificate manager not started");
}

void cert_runnable::render_metrics(std::string& out) const {
  if (auto m = current()) out += m->metrics_text();
}

}  // namespace mlnetpol::app
