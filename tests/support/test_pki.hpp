#pragma once
// Throw-away certificates for tests (OpenSSL 3 EVP, ECDSA P-256): a CA, server certificates with
// DNS and IP SANs, and client certificates as kube-apiserver reads them (CN user, O group).
#include <string>
#include <vector>

namespace mlnetpol::testing {

struct key_pair {
  std::string cert_pem;
  std::string key_pem;
};

class test_ca {
 public:
  explicit test_ca(const std::string& common_name);
  ~test_ca();
  test_ca(const test_ca&) = delete;
  test_ca& operator=(const test_ca&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }
  // sans: "DNS:localhost", "IP:127.0.0.1".
  key_pair issue_server(const std::string& common_name, const std::vector<std::string>& sans) const;
  // organization "" for none; kube-apiserver maps O to groups.
  key_pair issue_client(const std::string& common_name, const std::string& organization) const;

 private:
  key_pair issue(const std::string& common_name, const std::string& organization,
                 const std::string& sans, bool server) const;
  void* key_ = nullptr;   // EVP_PKEY*
  void* cert_ = nullptr;  // X509*
  std::string cert_pem_;
};

// The CA, a server certificate for 127.0.0.1 and localhost, and the admin client certificate,
// made once per test binary (key generation costs milliseconds).
struct test_pki {
  static const test_pki& shared();
  test_pki();
  test_ca ca{"mlnetpol-test-ca"};
  key_pair server;
  key_pair admin;  // CN=admin, O=system:masters
};

}  // namespace mlnetpol::testing
