// The Secret and caBundle codecs: what cert_manager writes decodes back to the same state, strings
// are escaped, and the caBundle patch touches caBundle only, guarded by the resourceVersion read.
#include "controller/cert_codec.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace cert = mlnetpol::controller::cert;
namespace certs = mlnetpol::certs;
namespace rotation = mlnetpol::certs::rotation;
using namespace std::chrono_literals;

namespace {

// Every member a Secret can hold: a signing CA, a staged one, a retiring one, the serving pair
// and both annotations (whole seconds, as annotations hold them).
rotation::tls_state sample_state() {
  certs::issue_options names;
  names.extra_ips = {"127.0.0.1"};
  const auto now = std::chrono::floor<std::chrono::seconds>(rotation::wall::now());
  rotation::tls_state s;
  s.signing = certs::issue_ca(names, now - 1h, now + 90h);
  s.next = certs::issue_ca(names, now, now + 90h);
  s.serving = certs::issue_serving(*s.signing, names, now, now + 30h);
  s.retiring = rotation::bundle_set(certs::issue_ca(names, now - 2h, now + 10h).cert_pem);
  s.next_trusted_since = now;
  s.retire_after = now + 1h;
  return s;
}

}  // namespace

TEST_CASE("Secret encoding: object, patch and decode agree") {
  const rotation::tls_state state = sample_state();
  const std::string object = cert::secret_object(state, "mlnetpol-system", "mlnetpol-tls");
  auto decoded = cert::decode_secret(object);
  REQUIRE(decoded.has_value());
  CHECK(decoded->state == state);
  CHECK(object.find("\"ca.crt\"") != std::string::npos);
  CHECK(object.find("\"tls.key\"") != std::string::npos);

  rotation::tls_state bare;
  bare.next = state.signing;
  const std::string patch = cert::secret_patch(bare, "42");
  CHECK(patch.find(R"("resourceVersion":"42")") != std::string::npos);
  CHECK(patch.find(R"("tls.crt":null)") != std::string::npos);
  CHECK(patch.find(R"("signing-ca.key":null)") != std::string::npos);
  CHECK(patch.find(R"("mlnetpol.io/next-ca-trusted-since":null)") != std::string::npos);

  // Strings are escaped: a quote in a name or a resourceVersion cannot add members.
  const std::string odd =
      cert::secret_object(state, "ns\"x", "name\",\"kind\":\"ConfigMap");
  auto odd_decoded = cert::decode_secret(odd);
  REQUIRE(odd_decoded.has_value());
  CHECK(odd.find(R"("kind":"Secret")") != std::string::npos);
  CHECK(odd.find(R"("kind":"ConfigMap")") == std::string::npos);
  CHECK(odd.find(R"("name":"name\",\"kind\":\"ConfigMap")") != std::string::npos);
  CHECK(cert::secret_patch(bare, "4\"2").find(R"("resourceVersion":"4\"2")") !=
        std::string::npos);

  CHECK_FALSE(cert::decode_secret("[]").has_value());
  CHECK_FALSE(cert::decode_secret("{").has_value());
  auto empty = cert::decode_secret(R"({"metadata":{"resourceVersion":"7"}})");
  REQUIRE(empty.has_value());
  CHECK(empty->resource_version == "7");
  CHECK_FALSE(empty->state.serving.has_value());
}

TEST_CASE("webhook configuration: caBundle of every entry read and patched, the rest kept") {
  const rotation::tls_state state = sample_state();
  const std::string configuration = R"({"apiVersion":"admissionregistration.k8s.io/v1",
    "kind":"ValidatingWebhookConfiguration","metadata":{"name":"mlnetpol","resourceVersion":"99"},
    "webhooks":[{"name":"a.mlnetpol.io","clientConfig":{"url":"https://127.0.0.1:1/validate"},
                 "failurePolicy":"Fail"},
                {"name":"b.mlnetpol.io","clientConfig":{"service":{"name":"mlnetpol"},"caBundle":"eA=="}}]})";
  auto view = cert::decode_webhook_configuration(configuration);
  REQUIRE(view.has_value());
  CHECK(view->resource_version == "99");
  REQUIRE(view->bundles.size() == 2);
  CHECK(view->bundles[0].empty());
  CHECK(view->bundles[1].empty());  // "x" is no certificate

  auto patch = cert::bundle_patch(configuration, state.bundle());
  REQUIRE(patch.has_value());
  CHECK(patch->starts_with(
      R"([{"op":"test","path":"/metadata/resourceVersion","value":"99"},{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":")"));
  CHECK(patch->find(R"({"op":"add","path":"/webhooks/1/clientConfig/caBundle","value":")") !=
        std::string::npos);
  CHECK(patch->find("failurePolicy") == std::string::npos);  // nothing but caBundle
  CHECK(patch->find("/webhooks/2/") == std::string::npos);
  CHECK_FALSE(cert::bundle_patch(R"({"metadata":{}})", "x").has_value());
}
