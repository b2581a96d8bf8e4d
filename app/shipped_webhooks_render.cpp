#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "app/manifest_documents.hpp"
#include "app/shipped_webhooks.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::app {

result<controller::webhooks::desired> shipped_webhooks(
    const controller::webhooks::render_options& options) {
  auto objects = manifest_objects(shipped_webhooks_yaml(), "manifests/base/webhooks.yaml");
  if (!objects) return objects.error();
  controller::webhooks::desired out;
  for (const auto& o : *objects) {
    const auto& k = (*o.object)["kind"];  // manifest_objects: a string
    const std::string_view kind(k.GetString(), k.GetStringLength());
    std::string* into = nullptr;
    if (kind == k8s::mutating_webhook_configurations.kind) into = &out.mutating;
    if (kind == k8s::validating_webhook_configurations.kind) into = &out.validating;
    if (into == nullptr) continue;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    o.object->Accept(writer);
    auto rendered = controller::webhooks::render(buffer.GetString(), options);
    if (!rendered) return fail(o.source + ": " + rendered.error().message);
    *into = std::move(*rendered);
  }
  if (out.mutating.empty() || out.validating.empty()) {
    return fail(
        "manifests/base/webhooks.yaml: expected a Mutating and a ValidatingWebhookConfiguration");
  }
  return out;
}

}  // namespace mlnetpol::app
