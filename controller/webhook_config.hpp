#pragma once
// mlnetpol's two webhook configurations are its own to keep, whole (issue 25): the leader compares
// what the API server holds with what mlnetpol ships (manifests/base/webhooks.yaml, embedded in the
// binary and rendered for this install) and sets back any difference — webhooks added, removed or
// reordered, rules, selectors, failurePolicy, clientConfig, matchConditions, timeouts — leaving
// only caBundle to the certificate rotation. Pure: JSON text in, JSON text out.
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace mlnetpol::controller::webhooks {

struct render_options {
  std::string service = "mlnetpol";  // clientConfig.service.name
  std::string service_namespace = "mlnetpol-system";
  // Non-empty: clientConfig.url = url_base + the service path (local registration, dev, e2e).
  std::string url_base;
  bool fail_open = false;  // every failurePolicy Ignore (the audit overlay)
  // The workload webhooks' failurePolicy Fail (shipped: Ignore, the admission policies back them):
  // for API servers without ValidatingAdmissionPolicy, where nothing else judges workloads.
  bool workloads_fail_closed = false;
};

// What the leader keeps the two configurations at: their `webhooks` arrays (JSON); an empty one
// is not compared (only its caBundle is kept, --webhook-repair=ca-bundle).
struct desired {
  std::string mutating;
  std::string validating;
};

// The `webhooks` array (JSON) of one shipped configuration object (JSON), rendered for an install:
// Service name and namespace (or a URL), failure policies; never a caBundle.
result<std::string> render(std::string_view manifest_object_json, const render_options& options);

// What differs between the configuration the API server holds (the whole object) and the desired
// `webhooks` array, caBundle aside and API-server defaults applied to both sides; one line per
// change ("webhook evil.mlnetpol.io added", "webhook x: rules, failurePolicy"), empty when equal.
result<std::vector<std::string>> differences(std::string_view observed_object_json,
                                             std::string_view desired_webhooks_json);

// A JSON patch (RFC 6902) replacing the whole `webhooks` array with the desired one, guarded by a
// test of the observed resourceVersion. Each webhook keeps the caBundle its namesake holds now;
// one that is put back gets fallback_ca_bundle (base64, may be empty: none).
result<std::string> repair_patch(std::string_view observed_object_json,
                                 std::string_view desired_webhooks_json,
                                 std::string_view fallback_ca_bundle);

// Who wrote the object besides mlnetpol, from managedFields: "kubectl-edit (Update)", ...
std::vector<std::string> other_managers(std::string_view observed_object_json);

}  // namespace mlnetpol::controller::webhooks
