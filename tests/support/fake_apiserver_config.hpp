#pragma once
// The rest config of a client pointed at the fake API server (tests/support/fake_apiserver.hpp).
#include <filesystem>
#include <string>

#include "k8s/client.hpp"
#include "tests/support/fake_apiserver.hpp"
#include "tests/support/files.hpp"

namespace mlnetpol::testing {

// Verifies the fake's certificate with the test CA and authenticates as the admin certificate.
inline k8s::rest_config config_for(const fake_apiserver& server) {
  k8s::rest_config c;
  c.host = "127.0.0.1";
  c.port = server.port();
  c.ca_pem = test_pki::shared().ca.cert_pem();
  c.client_cert_pem = test_pki::shared().admin.cert_pem;
  c.client_key_pem = test_pki::shared().admin.key_pem;
  c.tls_server_name = "127.0.0.1";
  return c;
}

}  // namespace mlnetpol::testing
