// --cert-management=self: no certificate files; the pair arrives as PEM bytes from the Secret
// (server::set_certificate). Before it does, no handshake and not ready; afterwards new handshakes
// get each new pair while open connections keep theirs; a bad pair keeps the one in force.
#include <doctest/doctest.h>

#include "tests/integration/test_support.hpp"

using namespace mlnetpol::testing;

TEST_CASE("pair from PEM bytes: not ready and no handshake before it, hot swap after") {
  const auto first = fresh_pair();
  const auto second = fresh_pair();
  running_server s([](auto& o) {
    o.tls_cert_file.clear();
    o.tls_key_file.clear();
  });
  CHECK_FALSE(s.srv->ready());
  CHECK_THROWS_AS(
      {
        tls_client c(s.port(), first.ca_cert_pem);
        c.connect();
      },
      boost::system::system_error);

  CHECK(s.srv->set_certificate(first.cert_pem, first.key_pem).empty());
  CHECK(s.srv->ready());
  CHECK(s.srv->stats().certificate_expiry() > 0);
  tls_client before(s.port(), first.ca_cert_pem);
  before.connect();
  CHECK(before.peer_serial() == serial_of_pem(first.cert_pem));
  CHECK(before.request("POST", "/mutate", fixture("namespace-create-plain.json")).status == 200);

  // A key that does not match: rejected with a reason, the first pair stays.
  CHECK_FALSE(s.srv->set_certificate(first.cert_pem, second.key_pem).empty());
  CHECK_FALSE(s.srv->set_certificate("not a certificate", second.key_pem).empty());
  {
    tls_client c(s.port(), first.ca_cert_pem);
    c.connect();
    CHECK(c.peer_serial() == serial_of_pem(first.cert_pem));
  }

  CHECK(s.srv->set_certificate(second.cert_pem, second.key_pem).empty());
  tls_client after(s.port(), second.ca_cert_pem);
  after.connect();
  CHECK(after.peer_serial() == serial_of_pem(second.cert_pem));
  CHECK(before.request("POST", "/validate", fixture("namespace-create-plain.json")).status == 200);
}
