#include "controller/cert_codec.hpp"

#include <algorithm>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/base64.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"

namespace mlnetpol::controller::cert {
namespace {

namespace rotation = certs::rotation;

constexpr std::string_view trusted_since_key = "mlnetpol.io/next-ca-trusted-since";
constexpr std::string_view retire_after_key = "mlnetpol.io/retire-after";

// Secret data keys: what replicas serve, what caBundle holds, and the CA material (never leaves
// the cluster).
struct data_key {
  std::string_view name;
  std::optional<certs::key_pair> rotation::tls_state::*pair;
  bool cert;  // cert_pem, else key_pem
};
constexpr data_key pair_keys[] = {
    {"tls.crt", &rotation::tls_state::serving, true},
    {"tls.key", &rotation::tls_state::serving, false},
    {"signing-ca.crt", &rotation::tls_state::signing, true},
    {"signing-ca.key", &rotation::tls_state::signing, false},
    {"next-ca.crt", &rotation::tls_state::next, true},
    {"next-ca.key", &rotation::tls_state::next, false},
};

// The one certificate of a PEM text, canonical ("" when there is none).
std::string canonical(std::string_view pem) {
  auto blocks = certs::split_bundle(pem);
  return blocks.empty() ? std::string() : std::move(blocks.front());
}


// Every JSON text written here goes through an escaping writer: names and annotation values
// come from flags and from the Secret the API server returned.
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void put_member(json_writer& w, std::string_view key, std::optional<std::string_view> value) {
  put_string(w, key);
  if (value) {
    put_string(w, *value);
  } else {
    w.Null();  // a merge patch deletes keys set to null
  }
}

// The Secret's "data" object for a state; with nulls for what it lacks when patching.
void put_data(json_writer& w, const rotation::tls_state& state, bool with_nulls) {
  w.StartObject();
  for (const auto& k : pair_keys) {
    const auto& pair = state.*k.pair;
    if (!pair && !with_nulls) continue;
    if (pair) {
      put_member(w, k.name, base64_encode(k.cert ? pair->cert_pem : pair->key_pem));
    } else {
      put_member(w, k.name, std::nullopt);
    }
  }
  put_member(w, "ca.crt", base64_encode(state.bundle()));
  w.EndObject();
}

void put_annotations(json_writer& w, const rotation::tls_state& state, bool with_nulls) {
  w.StartObject();
  if (state.next_trusted_since) {
    put_member(w, trusted_since_key, rotation::format_time(*state.next_trusted_since));
  } else if (with_nulls) {
    put_member(w, trusted_since_key, std::nullopt);
  }
  if (state.retire_after && !state.retiring.empty()) {
    put_member(w, retire_after_key, rotation::format_time(*state.retire_after));
  } else if (with_nulls) {
    put_member(w, retire_after_key, std::nullopt);
  }
  w.EndObject();
}

std::string text_of(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> decoded_member(const rapidjson::Value& data, std::string_view key) {
  const std::string_view text = json::string_member(data, key);
  if (text.empty()) return std::nullopt;
  return base64_decode(text);
}

}  // namespace

result<secret_view> decode_secret(std::string_view text) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, text); !parsed) return parsed.error();
  const auto* meta = json::object_member(doc, "metadata");
  if (meta == nullptr) return fail("Secret without metadata");
  secret_view view;
  view.resource_version = std::string(json::string_member(*meta, "resourceVersion"));
  const auto* data = json::object_member(doc, "data");
  if (data != nullptr) {
    for (const auto& k : pair_keys) {
      if (!k.cert) continue;
      const auto cert = decoded_member(*data, k.name);
      const auto key =
          decoded_member(*data, std::string(k.name.substr(0, k.name.size() - 3)) + "key");
      if (cert && key && !cert->empty() && !key->empty()) {
        view.state.*k.pair = certs::key_pair{*cert, *key};
      }
    }
    if (const auto bundle = decoded_member(*data, "ca.crt")) {
      std::vector<std::string> known;
      for (const auto* pair : {&view.state.signing, &view.state.next}) {
        if (*pair) known.push_back(canonical((*pair)->cert_pem));
      }
      for (auto& pem : certs::split_bundle(*bundle)) {
        if (std::find(known.begin(), known.end(), pem) == known.end()) {
          view.state.retiring.push_back(std::move(pem));
        }
      }
    }
  }
  if (const auto* annotations = json::object_member(*meta, "annotations")) {
    view.state.next_trusted_since =
        rotation::parse_time(json::string_member(*annotations, trusted_since_key));
    view.state.retire_after =
        rotation::parse_time(json::string_member(*annotations, retire_after_key));
  }
  if (!view.state.next) view.state.next_trusted_since.reset();
  if (view.state.retiring.empty()) view.state.retire_after.reset();
  return view;
}

std::string secret_object(const rotation::tls_state& state, std::string_view ns,
                          std::string_view name) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  put_member(w, "apiVersion", "v1");
  put_member(w, "kind", "Secret");
  put_member(w, "type", "Opaque");
  put_string(w, "metadata");
  w.StartObject();
  put_member(w, "name", name);
  put_member(w, "namespace", ns);
  put_string(w, "labels");
  w.StartObject();
  put_member(w, "app.kubernetes.io/name", "mlnetpol");
  put_member(w, "app.kubernetes.io/component", "webhook-tls");
  w.EndObject();
  put_string(w, "annotations");
  put_annotations(w, state, false);
  w.EndObject();
  put_string(w, "data");
  put_data(w, state, false);
  w.EndObject();
  return text_of(buffer);
}

std::string secret_patch(const rotation::tls_state& state, std::string_view resource_version) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  put_string(w, "metadata");
  w.StartObject();
  put_member(w, "resourceVersion", resource_version);
  put_string(w, "annotations");
  put_annotations(w, state, true);
  w.EndObject();
  put_string(w, "data");
  put_data(w, state, true);
  w.EndObject();
  return text_of(buffer);
}

result<webhook_view> decode_webhook_configuration(std::string_view text) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, text); !parsed) return parsed.error();
  const auto* meta = json::object_member(doc, "metadata");
  if (meta == nullptr) return fail("webhook configuration without metadata");
  webhook_view view;
  view.resource_version = std::string(json::string_member(*meta, "resourceVersion"));
  const auto* hooks = json::member(doc, "webhooks");
  if (hooks == nullptr || !hooks->IsArray()) return view;
  for (const auto& hook : hooks->GetArray()) {
    std::vector<std::string> cas;
    if (const auto* client = json::object_member(hook, "clientConfig")) {
      if (const auto bundle = decoded_member(*client, "caBundle")) {
        cas = rotation::bundle_set(*bundle);
      }
    }
    view.bundles.push_back(std::move(cas));
  }
  return view;
}

result<std::string> bundle_patch(std::string_view configuration_json, std::string_view bundle_pem) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, configuration_json); !parsed) return parsed.error();
  const auto* meta = json::object_member(doc, "metadata");
  const auto* hooks = json::member(doc, "webhooks");
  if (meta == nullptr || hooks == nullptr || !hooks->IsArray()) {
    return fail("webhook configuration without webhooks");
  }
  // A JSON patch touching caBundle only (so mlnetpol owns no other field of the configuration,
  // and a later `kubectl apply --server-side` of the manifests meets no conflict), guarded by the
  // resourceVersion read: entries moved in between make the test fail, not the wrong entry change.
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartArray();
  w.StartObject();
  put_member(w, "op", "test");
  put_member(w, "path", "/metadata/resourceVersion");
  put_member(w, "value", json::string_member(*meta, "resourceVersion"));
  w.EndObject();
  const std::string encoded = base64_encode(bundle_pem);
  rapidjson::SizeType i = 0;
  for (const auto& hook : hooks->GetArray()) {
    if (!hook.IsObject()) return fail("a webhook entry is not an object");
    const std::string index = std::to_string(i++);
    if (json::object_member(hook, "clientConfig") == nullptr) {
      return fail("webhook entry " + index + " has no clientConfig");
    }
    w.StartObject();
    put_member(w, "op", "add");
    put_member(w, "path", "/webhooks/" + index + "/clientConfig/caBundle");
    put_member(w, "value", encoded);
    w.EndObject();
  }
  w.EndArray();
  return text_of(buffer);
}

}  // namespace mlnetpol::controller::cert
