#include "app/cert_runnable.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <stdexcept>
#include <utility>

#include "app/shipped_webhooks.hpp"

namespace mlnetpol::app {
namespace {

std::chrono::seconds whole_seconds(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d);
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

controller::cert_manager_options cert_options(const cert_flags& flags) {
  controller::cert_manager_options o;
  o.secret_name = flags.secret_name;
  o.secret_namespace =
      flags.secret_namespace.empty() ? controller::default_lease_namespace() : flags.secret_namespace;
  o.mutating_webhook = flags.mutating_webhook;
  o.validating_webhook = flags.validating_webhook;
  o.check_interval = flags.check_interval;
  o.identity = controller::default_identity();
  o.rotation.names.service = flags.service;
  o.rotation.names.namespace_name = o.secret_namespace;
  for (const auto& san : flags.extra_sans) {
    (is_ip(san) ? o.rotation.names.extra_ips : o.rotation.names.extra_dns).push_back(san);
  }
  o.rotation.ca_lifetime = whole_seconds(flags.ca_lifetime);
  o.rotation.serving_lifetime = whole_seconds(flags.serving_lifetime);
  o.rotation.propagation = whole_seconds(flags.propagation);
  o.rotation.clock_margin = whole_seconds(flags.clock_margin);
  o.election.identity = o.identity;
  o.election.lease_namespace = controller::default_lease_namespace();
  return o;
}

void declare(flags::parser& p, cert_flags& flags) {
  auto text = [](std::string& out, std::string name) {
    return [&out, name](std::string_view v) -> std::string {
      if (v.empty()) return name + ": missing value";
      out = v;
      return {};
    };
  };
  p.value("--cert-management",
          [&flags](std::string_view v) -> std::string {
            if (v == "self")
              flags.mode = cert_mode::self;
            else if (v == "external")
              flags.mode = cert_mode::external;
            else
              return "--cert-management: self or external, got \"" + std::string(v) + "\"";
            return {};
          })
      .value("--cert-secret-name", text(flags.secret_name, "--cert-secret-name"))
      .value("--cert-secret-namespace", text(flags.secret_namespace, "--cert-secret-namespace"))
      .value("--cert-service", text(flags.service, "--cert-service"))
      .value("--cert-mutating-webhook", text(flags.mutating_webhook, "--cert-mutating-webhook"))
      .value("--cert-validating-webhook",
             text(flags.validating_webhook, "--cert-validating-webhook"))
      .duration("--cert-ca-lifetime", flags.ca_lifetime, /*positive=*/true)
      .duration("--cert-serving-lifetime", flags.serving_lifetime, /*positive=*/true)
      .duration("--cert-propagation", flags.propagation, /*positive=*/true)
      .duration("--cert-clock-margin", flags.clock_margin, /*positive=*/true)
      .duration("--cert-check-interval", flags.check_interval, /*positive=*/true)
      .value("--cert-extra-san",
             [&flags](std::string_view v) -> std::string {
               if (v.empty()) return "--cert-extra-san: missing value";
               flags.extra_sans.emplace_back(v);  // repeatable
               return {};
             })
      .value("--webhook-repair",
             [&flags](std::string_view v) -> std::string {
               if (v != "all" && v != "ca-bundle") {
                 return "--webhook-repair: all or ca-bundle, got \"" + std::string(v) + "\"";
               }
               flags.repair_whole = v == "all";
               return {};
             })
      .value("--webhook-url",
             [&flags](std::string_view v) -> std::string {
               if (v.rfind("https://", 0) != 0 || v.size() <= 8) {
                 return "--webhook-url: an https:// URL, got \"" + std::string(v) + "\"";
               }
               flags.webhook_url = v;
               return {};
             })
      .value("--webhook-failure-policy", [&flags](std::string_view v) -> std::string {
        if (v != "shipped" && v != "Ignore" && v != "workloads-fail") {
          return "--webhook-failure-policy: shipped, Ignore or workloads-fail, got \"" +
                 std::string(v) + "\"";
        }
        flags.fail_open = v == "Ignore";
        flags.workloads_fail_closed = v == "workloads-fail";
        return {};
      });
}

result<void> check(const cert_flags& flags) {
  if (flags.mode == cert_mode::self) {
    const std::string why = certs::rotation::check_settings(cert_options(flags).rotation);
    if (!why.empty()) return fail("--cert-*: " + why);
  }
  return {};
}

std::string cert_flags_usage() {
  return "webhook certificate flags:\n"
         "  --cert-management self|external  self: the leader keeps a CA and the serving\n"
         "                                   certificate in a Secret and the webhooks' caBundle\n"
         "                                   (docs/certificates.md); external (default): serve\n"
         "                                   --tls-cert-file/--tls-key-file (cert-manager, make "
         "run)\n"
         "  --cert-secret-name NAME          Secret of the pair (default mlnetpol-tls)\n"
         "  --cert-secret-namespace NS       default $POD_NAMESPACE, else mlnetpol-system\n"
         "  --cert-service NAME              Service named in the SANs (default mlnetpol)\n"
         "  --cert-mutating-webhook NAME     MutatingWebhookConfiguration (default mlnetpol)\n"
         "  --cert-validating-webhook NAME   ValidatingWebhookConfiguration (default mlnetpol)\n"
         "  --cert-ca-lifetime D             CA lifetime (default 8760h; >= 3 serving lifetimes)\n"
         "  --cert-serving-lifetime D        serving certificate lifetime (default 2160h)\n"
         "  --cert-propagation D             wait between a CA entering caBundle and signing\n"
         "                                   (default 60s)\n"
         "  --cert-clock-margin D            clock skew allowed to the API servers (default 60s)\n"
         "  --cert-check-interval D          leader re-checks Secret and caBundle (default 5s)\n"
         "  --cert-extra-san NAME|IP         extra SAN (repeatable; local registration by URL)\n"
         "  --webhook-repair all|ca-bundle   all (default): the leader sets both webhook\n"
         "                                   configurations back to manifests/base/webhooks.yaml\n"
         "                                   as built in, whatever changed; ca-bundle: only\n"
         "                                   caBundle\n"
         "  --webhook-url https://HOST:PORT  the configurations name this URL (+ each path), not\n"
         "                                   the Service (local registration, dev)\n"
         "  --webhook-failure-policy shipped|Ignore|workloads-fail\n"
         "                                   Ignore: every webhook fails open (audit overlay);\n"
         "                                   workloads-fail: the workload webhooks fail closed\n"
         "                                   (API servers without ValidatingAdmissionPolicy)\n";
}

controller::webhooks::render_options webhook_render_options(const cert_flags& flags) {
  controller::webhooks::render_options r;
  r.service = flags.service;
  r.service_namespace = cert_options(flags).secret_namespace;  // the Service's, as the SANs
  r.url_base = flags.webhook_url;
  r.fail_open = flags.fail_open;
  r.workloads_fail_closed = flags.workloads_fail_closed;
  return r;
}

cert_runnable::cert_runnable(cert_flags flags, std::optional<k8s::rest_config> rest,
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
    auto rendered = shipped_webhooks(webhook_render_options(flags_));
    // Built from the repository's own manifest: failing here is a build defect, not input.
    if (!rendered)
      throw std::runtime_error("built-in webhook configurations: " + rendered.error().message);
    shipped = std::move(*rendered);
  }
  controller::cert_manager_options options = cert_options(flags_);
  options.shipped = std::move(shipped);
  auto m = std::make_shared<controller::cert_manager>(
      *rest_, std::move(options),
      [this](const certs::key_pair& pair) { return install_(pair.cert_pem, pair.key_pem); },
      std::move(is_leader));
  m->start();
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
