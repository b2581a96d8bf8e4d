#pragma once
// The one definition of each syntax rule a configuration or an object is checked against:
// Kubernetes names (k8s.io/apimachinery/pkg/util/validation), CIDRs and ports. The configuration
// parser and the renderer's check both use these, so they judge every value the same way.
#include <cstdint>
#include <string_view>

namespace mlnetpol::policy {

bool is_dns1123_label(std::string_view s);      // namespaces, services
bool is_dns1123_subdomain(std::string_view s);  // label key prefixes
bool is_qualified_name(std::string_view s);     // label and annotation keys
bool is_label_value(std::string_view s);

// Go's net.ParseCIDR rules (what the API server applies to ipBlock.cidr): dotted-quad IPv4 without
// leading zeros ("010.0.0.0/8" is rejected), RFC 4291 IPv6 text without an embedded IPv4 part,
// prefix length in range, also without leading zeros.
bool is_ipv4_cidr(std::string_view s);
bool is_ipv6_cidr(std::string_view s);
bool is_cidr(std::string_view s);

// 1-65535.
bool is_port(std::int64_t n);

}  // namespace mlnetpol::policy
