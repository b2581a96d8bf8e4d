#pragma once
// What `mlnetpol serve` needs for --cert-management: its flags and a started certificate manager.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/result.hpp"
#include "controller/cert_manager.hpp"

namespace mlnetpol::controller {

enum class cert_mode { external, self };

struct cert_flags {
  cert_mode mode = cert_mode::external;  // external: --tls-cert-file/--tls-key-file (cert-manager)
  std::string secret_name = "mlnetpol-tls";
  std::string secret_namespace;  // "" = $POD_NAMESPACE, else mlnetpol-system
  std::string service = "mlnetpol";
  std::string mutating_webhook = "mlnetpol";
  std::string validating_webhook = "mlnetpol";
  std::chrono::milliseconds ca_lifetime{std::chrono::hours(24 * 365)};
  std::chrono::milliseconds serving_lifetime{std::chrono::hours(24 * 90)};
  std::chrono::milliseconds propagation{std::chrono::seconds(60)};
  std::chrono::milliseconds clock_margin{std::chrono::seconds(60)};
  std::chrono::milliseconds check_interval{std::chrono::seconds(5)};
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
cert_manager_options cert_options(const cert_flags& flags);

// How the shipped webhook configurations are rendered for these flags (Service or URL, failure
// policies).
webhooks::render_options webhook_render_options(const cert_flags& flags);

// Starts the certificate manager (self mode) on the cluster access `serve` loaded
// (k8s::load_rest_config; self-managed certificates need the API server).
// shipped: the configurations to keep whole (empty with --webhook-repair=ca-bundle).
std::unique_ptr<cert_manager> start_cert_manager(const cert_flags& flags, k8s::rest_config rest,
                                                 pair_sink sink,
                                                 std::function<bool()> is_leader,
                                                 webhooks::desired shipped = {});

}  // namespace mlnetpol::controller
