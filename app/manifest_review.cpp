#include "app/manifest_review.hpp"

#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "admission/label_webhook.hpp"
#include "common/snapshot.hpp"
#include "policy/namespace_lookup.hpp"
#include "app/commands.hpp"
#include "app/manifest_documents.hpp"
#include "app/review_pipeline.hpp"
#include "common/json.hpp"
#include "policy/guardrails.hpp"
#include "policy/kinds.hpp"
#include "policy/labels.hpp"

namespace mlnetpol::app {
namespace {

struct object_result {
  std::string source, api_version, kind, namespace_name, name;
  std::string outcome;  // allowed | patched | denied | not-reviewed
  std::string message;
  std::vector<std::string> warnings;
  std::string patch;  // JSON text, "" when none
};

// The kinds the webhooks are registered for on CREATE (manifests/base/webhooks.yaml): Namespace,
// Pod, every workload kind whose pod templates the engine labels, and the tenant policies the
// guardrails judge (NetworkPolicy, CiliumNetworkPolicy).
bool reviewed_on_create(std::string_view group, std::string_view kind) {
  return (group.empty() && kind == "Namespace") || policy::is_pod_kind(group, kind) ||
         policy::is_workload_kind(group, kind) || policy::tenant_policy_kind_of(group, kind);
}

std::string lowercase_plural(std::string_view kind) {
  std::string out;
  for (char c : kind) out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out + "s";
}

std::string to_json_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

// The AdmissionReview the API server would send for `kubectl create` of object in namespace_name.
std::string create_review(const rapidjson::Value& object, std::string_view group,
                          std::string_view version, std::string_view kind,
                          const std::string& namespace_name, std::string_view name,
                          std::size_t serial) {
  rapidjson::Document review(rapidjson::kObjectType);
  auto& a = review.GetAllocator();
  auto str = [&](std::string_view s) { return rapidjson::Value(s.data(), s.size(), a); };
  rapidjson::Value gvk(rapidjson::kObjectType), gvr(rapidjson::kObjectType);
  gvk.AddMember("group", str(group), a).AddMember("version", str(version), a);
  gvk.AddMember("kind", str(kind), a);
  gvr.AddMember("group", str(group), a).AddMember("version", str(version), a);
  gvr.AddMember("resource", str(lowercase_plural(kind)), a);
  rapidjson::Value user(rapidjson::kObjectType), groups(rapidjson::kArrayType);
  groups.PushBack(str("system:authenticated"), a);
  user.AddMember("username", str(review_username), a).AddMember("groups", groups, a);
  rapidjson::Value request(rapidjson::kObjectType);
  request.AddMember("uid", str("mlnetpol-review-" + std::to_string(serial)), a);
  request.AddMember("kind", gvk, a).AddMember("resource", gvr, a);
  request.AddMember("requestKind", rapidjson::Value(request["kind"], a), a);
  if (!name.empty()) request.AddMember("name", str(name), a);
  request.AddMember("namespace", str(namespace_name), a);
  request.AddMember("operation", str("CREATE"), a);
  request.AddMember("userInfo", user, a);
  rapidjson::Value copy(object, a);
  // The API server stores the namespace it admits into; an object without one gets it.
  if (!(group.empty() && kind == "Namespace") && copy.HasMember("metadata") &&
      copy["metadata"].IsObject() && !copy["metadata"].HasMember("namespace")) {
    copy["metadata"].AddMember("namespace", str(namespace_name), a);
  }
  request.AddMember("object", copy, a);
  request.AddMember("oldObject", rapidjson::Value(rapidjson::kNullType), a);
  request.AddMember("dryRun", false, a);
  review.AddMember("apiVersion", str("admission.k8s.io/v1"), a);
  review.AddMember("kind", str("AdmissionReview"), a);
  review.AddMember("request", request, a);
  return to_json_text(review);
}

// "add /metadata/labels/workload-type=training" per operation, for the one-line summary.
std::string patch_summary(std::string_view patch_text) {
  rapidjson::Document patch;
  patch.Parse(patch_text.data(), patch_text.size());
  if (patch.HasParseError() || !patch.IsArray()) return std::string(patch_text);
  std::string out;
  for (const auto& op : patch.GetArray()) {
    const std::string_view name = json::string_member(&op, "op");
    if (name == "test") continue;
    out += out.empty() ? "" : "; ";
    out += std::string(name) + " " + std::string(json::string_member(&op, "path"));
    if (const rapidjson::Value* v = json::json_member(&op, "value")) {
      out += "=" + (v->IsString() ? std::string(v->GetString()) : to_json_text(*v));
    }
  }
  return out;
}

// Namespace labels as the input declares them.
class input_namespaces final : public policy::namespace_lookup {
 public:
  void add(std::string name, policy::label_map labels) {
    labels_[std::move(name)] = std::make_shared<const policy::label_map>(std::move(labels));
  }
  std::shared_ptr<const policy::label_map> labels_of(std::string_view name) const override {
    auto it = labels_.find(name);
    return it == labels_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::string, std::shared_ptr<const policy::label_map>, std::less<>> labels_;
};

object_result review_object(const manifest_object& m, const std::string& default_namespace,
                            admission::label_webhook& handlers, std::size_t serial) {
  object_result r;
  r.source = m.source;
  r.api_version = std::string(json::string_member(m.object, "apiVersion"));
  r.kind = std::string(json::string_member(m.object, "kind"));
  const rapidjson::Value* metadata = json::json_member(m.object, "metadata");
  r.name = std::string(json::string_member(metadata, "name"));
  if (r.name.empty()) r.name = std::string(json::string_member(metadata, "generateName"));
  const std::size_t slash = r.api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : r.api_version.substr(0, slash);
  const std::string version =
      slash == std::string::npos ? r.api_version : r.api_version.substr(slash + 1);
  const bool is_namespace = group.empty() && r.kind == "Namespace";
  r.namespace_name =
      is_namespace ? r.name : std::string(json::string_member(metadata, "namespace"));
  if (r.namespace_name.empty()) r.namespace_name = default_namespace;

  if (!reviewed_on_create(group, r.kind)) {
    r.outcome = "not-reviewed";
    r.message = "the webhooks are not called on CREATE of " + r.kind;
    return r;
  }
  // mlnetpol's own policies (`mlnetpol render` output) are written by its service account, which
  // the guardrails do not judge; in a cluster a tenant's copy with this label is judged.
  if (policy::tenant_policy_kind_of(group, r.kind) &&
      json::map_value(metadata, "labels", policy::managed_by_label) == policy::managed_by_value) {
    r.outcome = "not-reviewed";
    r.message = "managed by mlnetpol (" + std::string(policy::managed_by_label) + "=" +
                std::string(policy::managed_by_value) +
                "): written by mlnetpol's service account, which the guardrails do not judge";
    return r;
  }
  const std::string body = create_review(*m.object, group, version, r.kind, r.namespace_name,
                                         json::string_member(metadata, "name"), serial);
  auto chained = run_both_webhooks(body, handlers);
  if (!chained) {
    r.outcome = "error";
    r.message = chained.error().message;
    return r;
  }
  r.warnings = chained->mutated.warnings;
  r.warnings.insert(r.warnings.end(), chained->validated.warnings.begin(),
                    chained->validated.warnings.end());
  r.patch = chained->mutated.patch;
  if (!chained->allowed()) {
    r.outcome = "denied";
    r.message = chained->mutated.allowed ? chained->validated.message : chained->mutated.message;
    r.patch.clear();  // nothing is stored, so nothing is patched
  } else if (!r.patch.empty()) {
    r.outcome = "patched";
    r.message = patch_summary(r.patch);
  } else {
    r.outcome = "allowed";
  }
  return r;
}

void add_string(rapidjson::Value& o, const char* key, std::string_view value,
                rapidjson::Document::AllocatorType& a) {
  o.AddMember(rapidjson::StringRef(key), rapidjson::Value(value.data(), value.size(), a), a);
}

void print_json(const std::vector<object_result>& results, std::size_t denied) {
  rapidjson::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  rapidjson::Value items(rapidjson::kArrayType);
  for (const auto& r : results) {
    rapidjson::Value o(rapidjson::kObjectType);
    add_string(o, "source", r.source, a);
    add_string(o, "apiVersion", r.api_version, a);
    add_string(o, "kind", r.kind, a);
    add_string(o, "namespace", r.namespace_name, a);
    add_string(o, "name", r.name, a);
    add_string(o, "result", r.outcome, a);
    add_string(o, "message", r.message, a);
    rapidjson::Value warnings(rapidjson::kArrayType);
    for (const auto& w : r.warnings) warnings.PushBack(rapidjson::Value(w.c_str(), a), a);
    o.AddMember("warnings", warnings, a);
    rapidjson::Document patch;
    if (!r.patch.empty()) patch.Parse(r.patch.c_str());
    rapidjson::Value patch_value(rapidjson::kNullType);
    if (!r.patch.empty() && !patch.HasParseError()) patch_value.CopyFrom(patch, a);
    o.AddMember("patch", patch_value, a);
    items.PushBack(o, a);
  }
  out.AddMember("results", items, a);
  out.AddMember("denied", static_cast<uint64_t>(denied), a);
  std::printf("%s\n", to_json_text(out).c_str());
}

}  // namespace

int review_manifests(const std::vector<manifest_input>& inputs,
                     const manifest_review_options& options, const policy::config& cfg) {
  std::vector<manifest_object> objects;
  for (const auto& input : inputs) {
    auto found = manifest_objects(input.text, input.source);
    if (!found) {
      return argument_error("review", found.error().message);
    }
    objects.insert(objects.end(), std::make_move_iterator(found->begin()),
                   std::make_move_iterator(found->end()));
  }
  if (objects.empty()) {
    return argument_error("review", "no Kubernetes objects in the input");
  }

  // The input plays the cluster: a Namespace in it sets the labels (the mlnetpol.io/enforcement
  // override) its objects are judged with, as the controller's cache would once it is applied.
  // Namespaces are reviewed first, as Helm installs them; results are printed in input order.
  auto is_namespace = [](const manifest_object& m) {
    return json::string_member(m.object, "apiVersion") == "v1" &&
           json::string_member(m.object, "kind") == "Namespace";
  };
  input_namespaces lookup;
  for (const auto& m : objects) {
    if (!is_namespace(m)) continue;
    const rapidjson::Value* metadata = json::json_member(m.object, "metadata");
    const rapidjson::Value* labels = json::json_member(metadata, "labels");
    policy::label_map map;
    if (labels != nullptr && labels->IsObject()) {
      for (const auto& l : labels->GetObject()) {
        if (l.value.IsString()) map[l.name.GetString()] = l.value.GetString();
      }
    }
    lookup.add(std::string(json::string_member(metadata, "name")), std::move(map));
  }
  const snapshot<policy::config> config{cfg};
  admission::label_webhook handlers(config, &lookup);
  std::vector<object_result> results(objects.size());
  for (const bool namespaces : {true, false}) {
    for (std::size_t i = 0; i < objects.size(); ++i) {
      if (is_namespace(objects[i]) != namespaces) continue;
      results[i] = review_object(objects[i], options.default_namespace, handlers, i + 1);
    }
  }
  std::size_t denied = 0, errors = 0;
  for (const auto& r : results) {
    denied += r.outcome == "denied";
    errors += r.outcome == "error";
  }
  if (options.json_output) {
    print_json(results, denied);
  } else {
    std::size_t patched = 0, allowed = 0, skipped = 0;
    for (const auto& r : results) {
      const std::string where =
          r.namespace_name.empty() || (r.kind == "Namespace" && r.api_version == "v1")
              ? r.name
              : r.namespace_name + "/" + r.name;
      const std::string verdict = r.outcome == "patched"        ? "would be patched"
                                  : r.outcome == "not-reviewed" ? "not reviewed"
                                                                : r.outcome;
      std::printf("%s %s: %s%s%s\n", r.kind.c_str(), where.c_str(), verdict.c_str(),
                  r.message.empty() ? "" : ": ", r.message.c_str());
      for (const auto& w : r.warnings) std::printf("  warning: %s\n", w.c_str());
      patched += r.outcome == "patched";
      allowed += r.outcome == "allowed";
      skipped += r.outcome == "not-reviewed";
    }
    std::printf(
        "%zu objects: %zu allowed, %zu would be patched, %zu denied, %zu not reviewed%s\n",
        results.size(), allowed, patched, denied, skipped,
        errors > 0 ? (", " + std::to_string(errors) + " could not be evaluated").c_str() : "");
  }
  if (errors > 0) return 2;
  return denied > 0 ? 1 : 0;
}

}  // namespace mlnetpol::app
