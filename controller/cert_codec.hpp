#pragma once
// The webhook certificates' objects on the wire: the Secret mlnetpol-tls
// (certs::rotation::tls_state <-> JSON, a merge patch guarded by resourceVersion) and the caBundle
// of the webhook configurations (read per entry, a JSON patch guarded by resourceVersion). The
// rotation plan itself is pure and lives in certs/rotation.hpp.
#include <string>
#include <string_view>
#include <vector>

#include "certs/rotation.hpp"
#include "common/result.hpp"

namespace mlnetpol::controller::cert {

// --- the Secret ---
struct secret_view {
  certs::rotation::tls_state state;
  std::string resource_version;
};
// A Secret object as the API server returns it. Keys it does not hold are simply absent in the
// state (a Secret made by hand or by cert-manager decodes to serving + retiring only).
result<secret_view> decode_secret(std::string_view json);
// The whole Secret (create) and a merge patch to `state` guarded by resource_version (update).
std::string secret_object(const certs::rotation::tls_state& state, std::string_view ns,
                          std::string_view name);
std::string secret_patch(const certs::rotation::tls_state& state,
                         std::string_view resource_version);

// --- webhook configurations ---
struct webhook_view {
  std::string resource_version;
  std::vector<std::vector<std::string>> bundles;  // per webhook entry: canonical PEMs, sorted
};
result<webhook_view> decode_webhook_configuration(std::string_view json);
// A JSON patch (RFC 6902) giving every webhook entry caBundle = bundle_pem, guarded by a test of
// the configuration's resourceVersion.
result<std::string> bundle_patch(std::string_view configuration_json, std::string_view bundle_pem);

}  // namespace mlnetpol::controller::cert
