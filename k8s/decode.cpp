// Pure decoding: object metadata, watch events, lists, Leases, and the classification of
// non-success answers as kube-apiserver v1.28 means them (tests/fixtures/apiserver/).
#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/throw_exception.hpp>

#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "common/json_writer.hpp"
#include "common/time_format.hpp"
#include "k8s/client.hpp"
#include "k8s/wire.hpp"

namespace mlnetpol::k8s {
namespace {

// Bounds what an error keeps of a body that is not a Status (a proxy's HTML page, say).
constexpr std::size_t max_message = 1024;
constexpr std::size_t max_causes = 64;

std::string truncated(std::string_view text) {
  std::string out(text.substr(0, max_message));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

void read_string_map(const rapidjson::Value* object, std::map<std::string, std::string>& out) {
  if (object == nullptr) return;
  for (const auto& m : object->GetObject()) {
    if (!m.value.IsString()) continue;
    out.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                std::string(m.value.GetString(), m.value.GetStringLength()));
  }
}

result<object_meta> meta_of(const rapidjson::Value& object) {
  if (!object.IsObject()) return fail("the object is not a JSON object");
  const auto* metadata = json::object_member(object, "metadata");
  if (metadata == nullptr) return fail("the object has no metadata");
  object_meta meta;
  meta.api_version = json::string_member(object, "apiVersion");
  meta.kind = json::string_member(object, "kind");
  meta.namespace_name = json::string_member(*metadata, "namespace");
  meta.name = json::string_member(*metadata, "name");
  meta.uid = json::string_member(*metadata, "uid");
  meta.resource_version = json::string_member(*metadata, "resourceVersion");
  read_string_map(json::object_member(*metadata, "labels"), meta.labels);
  read_string_map(json::object_member(*metadata, "annotations"), meta.annotations);
  const auto* deletion = json::member(*metadata, "deletionTimestamp");
  meta.deleting = deletion != nullptr && !deletion->IsNull();
  if (const auto* managed = json::member(*metadata, "managedFields");
      managed != nullptr && managed->IsArray()) {
    for (const auto& entry : managed->GetArray()) {
      if (!entry.IsObject()) continue;
      const auto* fields = json::object_member(entry, "fieldsV1");
      if (fields == nullptr || json::member(*fields, "f:spec") == nullptr) continue;
      meta.spec_managers.push_back({std::string(json::string_member(entry, "manager")),
                                    std::string(json::string_member(entry, "operation"))});
    }
  }
  for (const auto& [key, out] : {std::pair{"spec", &meta.spec}, std::pair{"specs", &meta.specs}}) {
    const auto* value = json::member(object, key);
    if (value == nullptr || value->IsNull()) continue;
    *out = mlnetpol::json::write(*value);  // depth bounded by json::parse
  }
  for (const auto& m : object.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name != "apiVersion" && name != "kind" && name != "metadata" && name != "spec" &&
        name != "status")
      meta.extra_fields = true;
  }
  return meta;
}

int int_member(const rapidjson::Value& value, std::string_view key, int fallback) {
  const auto* m = json::member(value, key);
  return m != nullptr && m->IsInt() ? m->GetInt() : fallback;
}

// Retry-After as kube-apiserver sends it: whole seconds. Bounded; anything else is "absent".
std::chrono::seconds parse_retry_after(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  unsigned long seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::chrono::seconds(0);
  }
  return std::chrono::seconds(std::min<unsigned long>(seconds, 3600));
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

std::string_view to_string(failure_kind kind) {
  switch (kind) {
    case failure_kind::not_found:
      return "not_found";
    case failure_kind::crd_missing:
      return "crd_missing";
    case failure_kind::namespace_terminating:
      return "namespace_terminating";
    case failure_kind::forbidden:
      return "forbidden";
    case failure_kind::unauthorized:
      return "unauthorized";
    case failure_kind::conflict:
      return "conflict";
    case failure_kind::already_exists:
      return "already_exists";
    case failure_kind::invalid:
      return "invalid";
    case failure_kind::expired:
      return "expired";
    case failure_kind::throttled:
      return "throttled";
    case failure_kind::server_error:
      return "server_error";
    case failure_kind::transport:
      return "transport";
  }
  return "transport";
}

bool api_error::retryable() const {
  return kind == failure_kind::throttled || kind == failure_kind::server_error ||
         kind == failure_kind::transport;
}

void throw_exception_from_error(const api_error& e, const boost::source_location& location) {
  std::string text = e.verb + " " + e.resource + ": " + std::string(to_string(e.kind));
  if (e.status != 0) text += " (" + std::to_string(e.status) + ")";
  if (!e.message.empty()) text += ": " + e.message;
  boost::throw_exception(std::runtime_error(text), location);
}

std::string resource::api_version() const {
  if (group.empty()) return std::string(version);
  return std::string(group) + "/" + std::string(version);
}

std::string resource::rbac_name() const {
  if (group.empty()) return std::string(plural);
  return std::string(plural) + "." + std::string(group);
}

api_error classify_response(unsigned status, std::string_view content_type, std::string_view body,
                            std::string_view retry_after) {
  api_error e;
  e.status = status;
  e.retry_after = parse_retry_after(retry_after);

  // A Status object when the API server itself answered; text/plain (an uninstalled group's
  // "404 page not found") or a proxy's page otherwise.
  rapidjson::Document document;
  bool is_status = false;
  std::string_view reason;
  if (contains(content_type, "json") && json::parse(document, body) && document.IsObject() &&
      json::string_member(document, "kind") == "Status") {
    is_status = true;
    e.message = json::string_member(document, "message");
    reason = json::string_member(document, "reason");
    if (const auto* details = json::object_member(document, "details")) {
      if (const auto* causes = json::member(*details, "causes"); causes && causes->IsArray()) {
        for (const auto& cause : causes->GetArray()) {
          if (e.causes.size() == max_causes) break;
          const auto field = json::string_member(cause, "field");
          const auto message = json::string_member(cause, "message");
          if (message.empty()) continue;
          // "<nil>" is what the API server writes for a whole-object (oneOf) error.
          e.causes.push_back(field.empty() || field == "<nil>"
                                 ? std::string(message)
                                 : std::string(field) + ": " + std::string(message));
        }
      }
      if (e.retry_after.count() == 0) {
        const int seconds = int_member(*details, "retryAfterSeconds", 0);
        if (seconds > 0) e.retry_after = std::chrono::seconds(std::min(seconds, 3600));
      }
    }
    if (const auto* metadata = json::object_member(document, "metadata")) {
      e.continue_token = json::string_member(*metadata, "continue");
    }
  } else {
    e.message = truncated(body);
  }

  if (status == 404) {
    e.kind = is_status ? failure_kind::not_found : failure_kind::crd_missing;
  } else if (status == 403) {
    e.kind = contains(e.message, "because it is being terminated")
                 ? failure_kind::namespace_terminating
                 : failure_kind::forbidden;
  } else if (status == 401) {
    e.kind = failure_kind::unauthorized;
  } else if (status == 409) {
    e.kind = reason == "AlreadyExists" ? failure_kind::already_exists : failure_kind::conflict;
  } else if (status == 410) {
    e.kind = failure_kind::expired;
  } else if (status == 429) {
    e.kind = failure_kind::throttled;
  } else if (status == 500 && contains(e.message, "failed to create typed patch object")) {
    // Not transient: server-side apply could not type the object we sent.
    e.kind = failure_kind::invalid;
  } else if (status >= 500 && status <= 599) {
    e.kind = failure_kind::server_error;
  } else if (status >= 400 && status <= 499) {
    // 400 BadRequest, 422 Invalid, 413, 415: the request we sent is wrong.
    e.kind = failure_kind::invalid;
  } else {
    e.kind = failure_kind::transport;
    if (e.message.empty()) e.message = "unexpected HTTP status " + std::to_string(status);
  }
  if (e.kind == failure_kind::invalid && e.causes.empty() && !e.message.empty()) {
    e.causes.push_back(e.message);
  }
  if (e.message.empty()) e.message = "HTTP " + std::to_string(status);
  return e;
}

result<object_meta> decode_object_meta(std::string_view text) {
  rapidjson::Document document;
  if (auto parsed = json::parse(document, text); !parsed) return parsed.error();
  return meta_of(document);
}

result<watch_event> decode_watch_event(std::string_view line) {
  rapidjson::Document document;
  if (auto parsed = json::parse(document, line); !parsed) return parsed.error();
  if (!document.IsObject()) return fail("a watch event is not a JSON object");
  const auto type = json::string_member(document, "type");
  const auto* object = json::object_member(document, "object");
  if (object == nullptr) return fail("a watch event without an object");
  watch_event event;
  if (type == "ADDED") {
    event.event_type = watch_event::type::added;
  } else if (type == "MODIFIED") {
    event.event_type = watch_event::type::modified;
  } else if (type == "DELETED") {
    event.event_type = watch_event::type::deleted;
  } else if (type == "BOOKMARK") {
    event.event_type = watch_event::type::bookmark;
  } else if (type == "ERROR") {
    event.event_type = watch_event::type::error;
    event.error_code = int_member(*object, "code", 0);
    event.error_message = truncated(json::string_member(*object, "message"));
    return event;
  } else {
    return fail("unknown watch event type \"" + truncated(type) + "\"");
  }
  auto meta = meta_of(*object);
  if (!meta) return meta.error();
  if (event.event_type == watch_event::type::bookmark) {
    event.object.resource_version = std::move(meta->resource_version);
  } else {
    event.object = std::move(*meta);
  }
  return event;
}

std::string format_micro_time(std::chrono::system_clock::time_point time) {
  return format_rfc3339_micro(time);
}

namespace wire {

result<list_page> decode_list(const resource& r, std::string_view text) {
  rapidjson::Document document;
  if (auto parsed = json::parse(document, text); !parsed) return parsed.error();
  if (!document.IsObject()) return fail("a list answer is not a JSON object");
  list_page page;
  if (const auto* metadata = json::object_member(document, "metadata")) {
    page.resource_version = json::string_member(*metadata, "resourceVersion");
    page.continue_token = json::string_member(*metadata, "continue");
  }
  const auto* items = json::member(document, "items");
  if (items == nullptr || items->IsNull()) return page;
  if (!items->IsArray()) return fail("a list answer whose items are not an array");
  page.items.reserve(items->Size());
  for (const auto& item : items->GetArray()) {
    auto meta = meta_of(item);
    if (!meta)
      return fail("list item " + std::to_string(page.items.size()) + ": " + meta.error().message);
    if (meta->api_version.empty()) meta->api_version = r.api_version();
    if (meta->kind.empty()) meta->kind = r.kind;
    page.items.push_back(std::move(*meta));
  }
  return page;
}

result<std::vector<std::string>> decode_resource_names(std::string_view text) {
  rapidjson::Document document;
  if (auto parsed = json::parse(document, text); !parsed) return parsed.error();
  if (!document.IsObject() || json::string_member(document, "kind") != "APIResourceList") {
    return fail("not an APIResourceList document");
  }
  std::vector<std::string> out;
  const rapidjson::Value* resources = json::member(document, "resources");
  if (resources == nullptr || !resources->IsArray()) return out;
  for (const auto& r : resources->GetArray()) {
    if (!r.IsObject()) continue;
    const std::string_view name = json::string_member(r, "name");
    if (!name.empty()) out.emplace_back(name);
  }
  return out;
}

result<lease_record> decode_lease(std::string_view text) {
  rapidjson::Document document;
  if (auto parsed = json::parse(document, text); !parsed) return parsed.error();
  auto meta = meta_of(document);
  if (!meta) return meta.error();
  lease_record lease;
  lease.namespace_name = std::move(meta->namespace_name);
  lease.name = std::move(meta->name);
  lease.resource_version = std::move(meta->resource_version);
  if (const auto* spec = json::object_member(document, "spec")) {
    lease.holder_identity = json::string_member(*spec, "holderIdentity");
    lease.lease_duration_seconds = int_member(*spec, "leaseDurationSeconds", 0);
    lease.acquire_time = json::string_member(*spec, "acquireTime");
    lease.renew_time = json::string_member(*spec, "renewTime");
    lease.lease_transitions = int_member(*spec, "leaseTransitions", 0);
  } else {
    lease.lease_duration_seconds = 0;
  }
  return lease;
}

std::string encode_lease(const lease_record& lease) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  str("apiVersion");
  str("coordination.k8s.io/v1");
  str("kind");
  str("Lease");
  str("metadata");
  w.StartObject();
  str("name");
  str(lease.name);
  str("namespace");
  str(lease.namespace_name);
  if (!lease.resource_version.empty()) {
    str("resourceVersion");
    str(lease.resource_version);
  }
  w.EndObject();
  str("spec");
  w.StartObject();
  str("holderIdentity");
  str(lease.holder_identity);
  str("leaseDurationSeconds");
  w.Int(lease.lease_duration_seconds);
  if (!lease.acquire_time.empty()) {
    str("acquireTime");
    str(lease.acquire_time);
  }
  if (!lease.renew_time.empty()) {
    str("renewTime");
    str(lease.renew_time);
  }
  str("leaseTransitions");
  w.Int(lease.lease_transitions);
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string url_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace wire
}  // namespace mlnetpol::k8s
