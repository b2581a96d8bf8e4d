#pragma once
// Self-managed webhook certificates (--cert-management=self) as one of serve's runnables: started
// after the reconciler, whose leadership it shares (with --reconcile=false it elects itself on the
// same Lease), and stopped before it. Every replica loads the pair from the Secret into the server.
// Its flags (--cert-*, --webhook-*) and their usage text live here too; the controller takes the
// plain controller::cert_manager_options they build.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/reconciler_runnable.hpp"
#include "app/runnable.hpp"
#include "certs/rotation.hpp"
#include "common/flags.hpp"
#include "common/result.hpp"
#include "controller/cert_manager.hpp"
#include "controller/webhook_config.hpp"

namespace mlnetpol::app {

enum class cert_mode { external, self };

// Every default is the controller's (controller::cert_manager_options, certs::rotation::settings).
struct cert_flags {
  cert_mode mode = cert_mode::external;  // external: --tls-cert-file/--tls-key-file (cert-manager)
  std::string secret_name = controller::cert_manager_options{}.secret_name;
  std::string secret_namespace;  // "" = $POD_NAMESPACE, else mlnetpol-system
  std::string service = certs::rotation::settings{}.names.service;
  std::string mutating_webhook = controller::cert_manager_options{}.mutating_webhook;
  std::string validating_webhook = controller::cert_manager_options{}.validating_webhook;
  std::chrono::milliseconds ca_lifetime = certs::rotation::settings{}.ca_lifetime;
  std::chrono::milliseconds serving_lifetime = certs::rotation::settings{}.serving_lifetime;
  std::chrono::milliseconds propagation = certs::rotation::settings{}.propagation;
  std::chrono::milliseconds clock_margin = certs::rotation::settings{}.clock_margin;
  std::chrono::milliseconds check_interval = controller::cert_manager_options{}.check_interval;
  std::vector<std::string> extra_sans;  // IP addresses or DNS names (local registration, dev)
  // The webhook configurations: kept whole as shipped (default), or only their caBundle.
  bool repair_whole = true;
  std::string webhook_url;  // "": clientConfig names the Service; else url = this + path
  bool fail_open = false;   // --webhook-failure-policy=Ignore (the audit overlay)
  bool workloads_fail_closed = false;  // --webhook-failure-policy=workloads-fail
};

// The certificate flags on serve's one parser: --cert-management=self|external,
// --cert-secret-name, --cert-secret-namespace, --cert-service, --cert-mutating-webhook,
// --cert-validating-webhook, --cert-ca-lifetime, --cert-serving-lifetime, --cert-propagation,
// --cert-clock-margin, --cert-check-interval, --cert-extra-san (repeatable), --webhook-repair,
// --webhook-url and --webhook-failure-policy. check() after
// parsing: the lifetimes and names of self mode.
void declare(flags::parser& p, cert_flags& flags);
result<void> check(const cert_flags& flags);
std::string cert_flags_usage();
// The rotation settings and manager options the flags describe.
controller::cert_manager_options cert_options(const cert_flags& flags);

// How the shipped webhook configurations are rendered for these flags (Service or URL, failure
// policies).
controller::webhooks::render_options webhook_render_options(const cert_flags& flags);

class cert_runnable final : public runnable {
 public:
  // `install` puts a serving pair in force (the server's set_certificate).
  using install_fn = std::function<std::string(std::string_view cert, std::string_view key)>;

  // rest: the cluster access serve loaded (start() needs it: self-managed certificates).
  cert_runnable(cert_flags flags, std::optional<k8s::rest_config> rest,
                const reconciler_runnable& reconciler, install_fn install);
  ~cert_runnable() override;

  std::string_view name() const override { return "certificates"; }
  void start() override;
  void stop() override;

  std::string not_ready() const;  // "" once the Secret's pair is in force
  void render_metrics(std::string& out) const;

 private:
  cert_flags flags_;
  std::optional<k8s::rest_config> rest_;
  const reconciler_runnable& reconciler_;
  install_fn install_;
  std::shared_ptr<controller::cert_manager> manager_;
  std::shared_ptr<controller::cert_manager> current() const { return std::atomic_load(&manager_); }
};

}  // namespace mlnetpol::app
