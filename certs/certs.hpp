#pragma once
// CA and serving certificate issuance (ECDSA P-256) with the OpenSSL 3 EVP API.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlnetpol::certs {

// Upper bound of issue_options::days (ten years).
inline constexpr int max_days = 3650;

struct issue_options {
  std::string service = "mlnetpol";
  std::string namespace_name = "mlnetpol-system";
  int days = 365;
  bool dev = false;  // adds 127.0.0.1 and localhost to the SANs
  std::vector<std::string> extra_dns;
  std::vector<std::string> extra_ips;
};

struct issued {
  std::string ca_cert_pem;
  std::string cert_pem;  // serving certificate signed by the CA
  std::string key_pem;   // serving key (PKCS#8)
};

// Why options cannot be issued ("" when they can): the CLI reports it as a usage error.
std::string check_options(const issue_options& options);

// Throws std::runtime_error for bad options (names that are not DNS labels, days outside
// 1..max_days, malformed extra names) or with OpenSSL's reason on failure (start-up and CLI only).
issued issue(const issue_options& options);

// The in-cluster names of a Service: NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local.
std::vector<std::string> service_dns_names(const std::string& service,
                                           const std::string& namespace_name);

// --- pieces for a certificate manager that keeps a CA and issues serving certificates itself ---
using wall_clock = std::chrono::system_clock;

struct key_pair {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
  bool operator==(const key_pair&) const = default;
};

// A self-signed CA (pathlen 0) for options' Service, valid [not_before, not_after]. Throws
// std::runtime_error like issue().
key_pair issue_ca(const issue_options& options, wall_clock::time_point not_before,
                  wall_clock::time_point not_after);
// A serving certificate for options' names (the same SANs issue() writes), signed by ca.
key_pair issue_serving(const key_pair& ca, const issue_options& options,
                       wall_clock::time_point not_before, wall_clock::time_point not_after);

// A client certificate (extendedKeyUsage clientAuth) with subject CN common_name and the given DNS
// SANs, signed by ca: what the API server presents to `serve --client-ca-file`. Throws
// std::runtime_error for a name that is empty or not a DNS name (SANs) or on OpenSSL failure.
key_pair issue_client(const key_pair& ca, const std::string& common_name,
                      const std::vector<std::string>& dns_names, wall_clock::time_point not_before,
                      wall_clock::time_point not_after);

struct cert_info {
  wall_clock::time_point not_before;
  wall_clock::time_point not_after;
  std::string serial_hex;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};
// The first certificate of a PEM text; nullopt when there is none or it does not parse.
std::optional<cert_info> inspect(std::string_view pem);
// True when cert_pem's signature verifies with ca_pem's public key.
bool signed_by(std::string_view cert_pem, std::string_view ca_pem);
// The CERTIFICATE blocks of a bundle, each re-encoded canonically (so two bundles that differ
// only in whitespace or order compare equal once sorted); blocks that do not parse are dropped.
std::vector<std::string> split_bundle(std::string_view bundle);

// Writes ca.crt (0644), tls.crt (0644), tls.key (0600) into dir, creating it.
// Throws std::runtime_error naming the file if one exists and !force (nothing is written then);
// with force each file is replaced atomically (written beside it, then renamed over).
void write_files(const issued& pair, const std::filesystem::path& dir, bool force);

}  // namespace mlnetpol::certs
