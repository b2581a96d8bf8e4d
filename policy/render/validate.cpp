// validate_render_config: catches what would render an object the API server rejects, or one that
// allows more than the configuration meant.
#include <string_view>

#include "policy/fqdn.hpp"
#include "policy/name_rules.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::policy {
namespace {

void check_namespaces(const std::vector<std::string>& names, std::string_view key,
                      std::vector<std::string>& errors) {
  for (const auto& n : names) {
    if (!is_dns1123_label(n)) {
      errors.push_back(std::string(key) + ": '" + n + "' is not a valid namespace name");
    }
  }
}

void check_ports(const std::vector<std::uint16_t>& ports, std::string_view key,
                 std::vector<std::string>& errors) {
  for (auto p : ports) {
    if (!is_port(p))
      errors.push_back(std::string(key) + ": port " + std::to_string(p) + " is not a port");
  }
}

}  // namespace

std::vector<std::string> validate_render_config(const config& cfg) {
  std::vector<std::string> errors;
  check_namespaces(cfg.platform_namespaces, "platform_namespaces", errors);
  check_namespaces(cfg.tenant_namespaces, "tenant_namespaces", errors);
  check_namespaces(cfg.ml_training_namespaces, "ml_training_namespaces", errors);
  check_namespaces(cfg.ml_inference_namespaces, "ml_inference_namespaces", errors);
  check_namespaces({cfg.monitoring_namespace}, "monitoring_namespace", errors);
  check_namespaces(cfg.ingress_controller_namespaces, "ingress_controller_namespaces", errors);
  for (const auto& p : cfg.ingress_controller_pods) {
    check_namespaces({p.namespace_name}, "ingress_controller_pods.namespace", errors);
  }
  for (const auto& s : cfg.inference_allowed_services) {
    check_namespaces({s.namespace_name}, "inference_allowed_services.namespace", errors);
    if (!is_dns1123_label(s.service_name)) {
      errors.push_back("inference_allowed_services.serviceName: '" + s.service_name +
                       "' is not a valid Service name");
    }
  }
  if (cfg.label_key.empty()) errors.push_back("label_key: must not be empty");
  check_ports(cfg.training_metrics_ports, "training_metrics_ports", errors);
  check_ports(cfg.inference_serving_ports, "inference_serving_ports", errors);
  check_ports(cfg.inference_metrics_ports, "inference_metrics_ports", errors);
  check_ports(cfg.api_server_ports, "api_server_ports", errors);
  for (const auto& f : cfg.training_egress_fqdns) {
    if (auto e = fqdn_entry_error(f); !e.empty()) errors.push_back("training_egress_fqdns: " + e);
  }
  for (const auto& f : cfg.inference_egress_fqdns) {
    if (auto e = fqdn_entry_error(f); !e.empty()) errors.push_back("inference_egress_fqdns: " + e);
  }
  for (const auto& c : cfg.api_server_cidrs) {
    if (!is_ipv4_cidr(c) && !is_ipv6_cidr(c)) {
      errors.push_back("api_server_cidrs: '" + c + "' is not a CIDR");
    }
  }
  for (const auto& c : cfg.https_egress_except_cidrs) {
    // They are exceptions of 0.0.0.0/0, so they must be IPv4.
    if (!is_ipv4_cidr(c)) {
      errors.push_back("https_egress_except_cidrs: '" + c + "' is not an IPv4 CIDR");
    } else if (c.ends_with("/0")) {
      errors.push_back("https_egress_except_cidrs: '" + c + "' would exclude every address");
    }
  }
  return errors;
}

}  // namespace mlnetpol::policy
