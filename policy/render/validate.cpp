// validate_render_config: catches what would render an object the API server rejects, or one that
// allows more than the configuration meant.
#include <cctype>
#include <string_view>

#include "policy/fqdn.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::policy {
namespace {

// RFC 1123 label: what Kubernetes accepts as a namespace or Service name.
bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

bool parse_uint(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty() || s.size() > 3) return false;
  out = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return out <= max && !(s.size() > 1 && s.front() == '0');
}

bool is_ipv4_cidr(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  unsigned bits = 0;
  if (!parse_uint(s.substr(slash + 1), 32, bits)) return false;
  std::string_view addr = s.substr(0, slash);
  for (int i = 0; i < 4; ++i) {
    const auto dot = addr.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return false;
    unsigned octet = 0;
    if (!parse_uint(addr.substr(0, dot), 255, octet)) return false;
    addr = dot == std::string_view::npos ? std::string_view{} : addr.substr(dot + 1);
  }
  return true;
}

bool is_ipv6_cidr(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  unsigned bits = 0;
  if (!parse_uint(s.substr(slash + 1), 128, bits)) return false;
  int groups = 0;
  bool double_colon = false;
  std::string_view addr = s.substr(0, slash);
  if (addr.find(':') == std::string_view::npos) return false;
  for (std::size_t i = 0; i < addr.size();) {
    if (addr[i] == ':') {
      if (i + 1 < addr.size() && addr[i + 1] == ':') {
        if (double_colon) return false;
        double_colon = true;
        i += 2;
        continue;
      }
      if (i == 0 || i + 1 == addr.size()) return false;
      ++i;
      continue;
    }
    std::size_t n = 0;
    while (i < addr.size() && std::isxdigit(static_cast<unsigned char>(addr[i]))) ++i, ++n;
    if (n == 0 || n > 4) return false;
    ++groups;
  }
  return double_colon ? groups < 8 : groups == 8;
}

void check_namespaces(const std::vector<std::string>& names, std::string_view key,
                      std::vector<std::string>& errors) {
  for (const auto& n : names) {
    if (!is_dns_label(n)) {
      errors.push_back(std::string(key) + ": '" + n + "' is not a valid namespace name");
    }
  }
}

void check_ports(const std::vector<std::uint16_t>& ports, std::string_view key,
                 std::vector<std::string>& errors) {
  for (auto p : ports) {
    if (p == 0) errors.push_back(std::string(key) + ": port 0 is not a port");
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
    if (!is_dns_label(s.service_name)) {
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
