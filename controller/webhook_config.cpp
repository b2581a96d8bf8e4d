#include "controller/webhook_config.hpp"

#include <algorithm>

#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "common/json_writer.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::controller::webhooks {
namespace {

using value = rapidjson::Value;
using allocator = rapidjson::Document::AllocatorType;

value text(std::string_view s, allocator& a) {
  return value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

void set(value& object, std::string_view key, value v, allocator& a) {
  if (value* m = json::member(object, key)) {
    *m = std::move(v);
  } else {
    object.AddMember(text(key, a), std::move(v), a);
  }
}

void set_default(value& object, std::string_view key, value v, allocator& a) {
  if (json::member(object, key) == nullptr) object.AddMember(text(key, a), std::move(v), a);
}

// The webhooks array of a JSON document: the document itself when it is an array (a rendering),
// else its `webhooks` member (an object); an absent member reads as no webhooks.
result<const value*> webhooks_of(const rapidjson::Document& doc, value& empty) {
  if (doc.IsArray()) return &doc;
  if (!doc.IsObject()) return fail("a webhook configuration is not a JSON object");
  const value* hooks = json::member(doc, "webhooks");
  if (hooks == nullptr || hooks->IsNull()) return &empty;
  if (!hooks->IsArray()) return fail("webhooks is not an array");
  for (const auto& h : hooks->GetArray()) {
    if (!h.IsObject() || !json::member(h, "name") || !json::member(h, "name")->IsString()) {
      return fail("a webhook entry is not an object with a name");
    }
  }
  return hooks;
}

// One webhook as the API server stores it (v1 defaults filled in), caBundle left out: two entries
// compare equal exactly when they admit the same way.
value normalized(const value& hook, bool mutating, allocator& a) {
  value out(hook, a);
  set_default(out, "failurePolicy", text("Fail", a), a);
  set_default(out, "matchPolicy", text("Equivalent", a), a);
  set_default(out, "namespaceSelector", value(rapidjson::kObjectType), a);
  set_default(out, "objectSelector", value(rapidjson::kObjectType), a);
  set_default(out, "timeoutSeconds", value(10), a);
  if (mutating) set_default(out, "reinvocationPolicy", text("Never", a), a);
  if (const value* m = json::member(out, "matchConditions"); m && m->IsArray() && m->Empty()) {
    out.RemoveMember("matchConditions");
  }
  if (value* rules = json::member(out, "rules"); rules && rules->IsArray()) {
    for (auto& rule : rules->GetArray()) {
      if (rule.IsObject()) set_default(rule, "scope", text("*", a), a);
    }
  }
  if (value* config = json::member(out, "clientConfig"); config && config->IsObject()) {
    config->RemoveMember("caBundle");
    if (value* service = json::member(*config, "service"); service && service->IsObject()) {
      set_default(*service, "port", value(443), a);
    }
  }
  return out;
}

std::string_view name_of(const value& hook) {
  return json::string_member(hook, "name");
}

const value* find_named(const value& hooks, std::string_view name) {
  for (const auto& h : hooks.GetArray()) {
    if (name_of(h) == name) return &h;
  }
  return nullptr;
}

}  // namespace

result<std::string> render(std::string_view manifest_object_json, const render_options& options) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, manifest_object_json); !parsed) return parsed.error();
  value empty(rapidjson::kArrayType);
  auto hooks = webhooks_of(doc, empty);
  if (!hooks) return hooks.error();
  auto& a = doc.GetAllocator();
  value out(rapidjson::kArrayType);
  for (const auto& hook : (*hooks)->GetArray()) {
    value h(hook, a);
    value* config = json::member(h, "clientConfig");
    if (config == nullptr || !config->IsObject()) {
      return fail("webhook " + std::string(name_of(hook)) + " has no clientConfig");
    }
    config->RemoveMember("caBundle");
    value* service = json::member(*config, "service");
    if (service != nullptr && !service->IsObject()) service = nullptr;
    if (!options.url_base.empty()) {
      const std::string path(service ? json::string_member(*service, "path") : "");
      value url(rapidjson::kObjectType);
      url.AddMember("url", text(options.url_base + path, a), a);
      *config = std::move(url);
    } else if (service != nullptr) {
      set(*service, "name", text(options.service, a), a);
      set(*service, "namespace", text(options.service_namespace, a), a);
    }
    if (options.fail_open) {
      set(h, "failurePolicy", text("Ignore", a), a);
    } else if (options.workloads_fail_closed && name_of(hook).rfind("workloads.", 0) == 0) {
      set(h, "failurePolicy", text("Fail", a), a);
    }
    out.PushBack(std::move(h), a);
  }
  return mlnetpol::json::write(out);
}

result<std::vector<std::string>> differences(std::string_view observed_object_json,
                                             std::string_view desired_webhooks_json) {
  rapidjson::Document observed;
  rapidjson::Document desired;
  if (auto parsed = json::parse(observed, observed_object_json); !parsed) return parsed.error();
  if (auto parsed = json::parse(desired, desired_webhooks_json); !parsed) return parsed.error();
  value empty(rapidjson::kArrayType);
  auto have = webhooks_of(observed, empty);
  if (!have) return have.error();
  auto want = webhooks_of(desired, empty);
  if (!want) return want.error();
  const bool mutating =
      json::string_member(observed, "kind") == k8s::mutating_webhook_configurations.kind;
  auto& a = observed.GetAllocator();

  std::vector<std::string> out;
  for (const auto& w : (*want)->GetArray()) {
    const value* h = find_named(**have, name_of(w));
    if (h == nullptr) {
      out.push_back("webhook " + std::string(name_of(w)) + " removed");
      continue;
    }
    const value nw = normalized(w, mutating, a);
    const value nh = normalized(*h, mutating, a);
    if (nw == nh) continue;
    std::vector<std::string> fields;
    for (const auto* side : {&nw, &nh}) {
      for (const auto& m : side->GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        const value* mine = json::member(nw, key);
        const value* theirs = json::member(nh, key);
        const bool same = mine != nullptr && theirs != nullptr && *mine == *theirs;
        if (!same && std::find(fields.begin(), fields.end(), key) == fields.end()) {
          fields.push_back(key);
        }
      }
    }
    std::sort(fields.begin(), fields.end());
    std::string line = "webhook " + std::string(name_of(w)) + " changed:";
    for (const auto& f : fields) line += " " + f;
    out.push_back(std::move(line));
  }
  for (const auto& h : (*have)->GetArray()) {
    if (find_named(**want, name_of(h)) == nullptr) {
      out.push_back("webhook " + std::string(name_of(h)) + " added");
    }
  }
  if (out.empty()) {
    // Same entries, same content: the order still decides which mutation runs first.
    const auto& hs = (*have)->GetArray();
    const auto& ws = (*want)->GetArray();
    if (hs.Size() != ws.Size()) out.emplace_back("webhooks duplicated");
    for (rapidjson::SizeType i = 0; out.empty() && i < ws.Size(); ++i) {
      if (name_of(hs[i]) != name_of(ws[i])) out.emplace_back("webhooks reordered");
    }
  }
  return out;
}

result<std::string> repair_patch(std::string_view observed_object_json,
                                 std::string_view desired_webhooks_json,
                                 std::string_view fallback_ca_bundle) {
  rapidjson::Document observed;
  rapidjson::Document desired;
  if (auto parsed = json::parse(observed, observed_object_json); !parsed) return parsed.error();
  if (auto parsed = json::parse(desired, desired_webhooks_json); !parsed) return parsed.error();
  if (!desired.IsArray()) return fail("the desired webhooks are not an array");
  value empty(rapidjson::kArrayType);
  auto have = webhooks_of(observed, empty);
  if (!have) return have.error();
  const auto* meta = json::object_member(observed, "metadata");
  if (meta == nullptr) return fail("webhook configuration without metadata");
  auto& a = desired.GetAllocator();
  for (auto& w : desired.GetArray()) {
    value* config = json::member(w, "clientConfig");
    if (config == nullptr || !config->IsObject()) {
      return fail("a desired webhook has no clientConfig");
    }
    std::string_view bundle = fallback_ca_bundle;
    if (const value* h = find_named(**have, name_of(w))) {
      if (const value* c = json::object_member(*h, "clientConfig")) {
        if (const value* b = json::member(*c, "caBundle"); b != nullptr && b->IsString()) {
          bundle = std::string_view(b->GetString(), b->GetStringLength());
        }
      }
    }
    if (!bundle.empty()) set(*config, "caBundle", text(bundle, a), a);
  }
  value patch(rapidjson::kArrayType);
  value test(rapidjson::kObjectType);
  test.AddMember("op", "test", a);
  test.AddMember("path", "/metadata/resourceVersion", a);
  test.AddMember("value", text(json::string_member(*meta, "resourceVersion"), a), a);
  patch.PushBack(std::move(test), a);
  value replace(rapidjson::kObjectType);
  replace.AddMember("op", "add", a);  // add replaces a present member and adds an absent one
  replace.AddMember("path", "/webhooks", a);
  replace.AddMember("value", value(desired, a), a);
  patch.PushBack(std::move(replace), a);
  return mlnetpol::json::write(patch);
}

std::vector<std::string> other_managers(std::string_view observed_object_json) {
  std::vector<std::string> out;
  rapidjson::Document doc;
  if (!json::parse(doc, observed_object_json)) return out;
  const value* meta = json::object_member(doc, "metadata");
  const value* fields = meta ? json::member(*meta, "managedFields") : nullptr;
  if (fields == nullptr || !fields->IsArray()) return out;
  for (const auto& f : fields->GetArray()) {
    const std::string_view manager = json::string_member(f, "manager");
    if (manager == k8s::field_manager_name) continue;
    std::string line = std::string(manager.empty() ? "(unnamed)" : manager) + " (" +
                       std::string(json::string_member(f, "operation")) + ")";
    if (std::find(out.begin(), out.end(), line) == out.end()) out.push_back(std::move(line));
  }
  return out;
}

}  // namespace mlnetpol::controller::webhooks
