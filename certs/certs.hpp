#pragma once
// CA and serving certificate issuance (ECDSA P-256) with the OpenSSL 3 EVP API.
#include <filesystem>
#include <string>
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

// Writes ca.crt (0644), tls.crt (0644), tls.key (0600) into dir, creating it.
// Throws std::runtime_error naming the file if one exists and !force (nothing is written then);
// with force each file is replaced atomically (written beside it, then renamed over).
void write_files(const issued& pair, const std::filesystem::path& dir, bool force);

}  // namespace mlnetpol::certs
