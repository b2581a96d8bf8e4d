#pragma once
// CA and serving certificate issuance (ECDSA P-256) with the OpenSSL 3 EVP API.
#include <filesystem>
#include <string>
#include <vector>

namespace mlnetpol::certs {

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

// Throws std::runtime_error with OpenSSL's reason on failure (start-up and CLI only).
issued issue(const issue_options& options);

// Writes ca.crt (0644), tls.crt (0644), tls.key (0600) into dir, creating it.
// Throws std::runtime_error if a file exists and !force.
void write_files(const issued& pair, const std::filesystem::path& dir, bool force);

}  // namespace mlnetpol::certs
