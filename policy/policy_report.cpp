#include "policy/policy_report.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json.hpp"
#include "policy/engine.hpp"
#include "policy/labels.hpp"
#include "policy/text.hpp"
#include "policy/warnings.hpp"

namespace mlnetpol::policy {
namespace {

using json::json_member;
using json::json_string;
using json::string_label;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void put(json_writer& w, std::string_view key, std::string_view value) {
  put(w, key);
  put(w, value);
}

report_entry entry_of(std::string_view policy, std::string_view api_version, std::string_view kind,
                      const rapidjson::Value& object) {
  const rapidjson::Value* metadata = json_member(&object, "metadata");
  report_entry e;
  e.policy = policy;
  e.api_version = std::string(api_version);
  e.kind = std::string(kind);
  e.name = std::string(json_string(json_member(metadata, "name")));
  e.uid = std::string(json_string(json_member(metadata, "uid")));
  return e;
}

// One result: every rule the object breaks, in one.
void write_result(json_writer& w, const report_entry& e, std::string_view namespace_name) {
  std::string rules;
  std::string message;
  for (const auto& v : e.violations) {
    append(rules, rules.empty() ? "" : ",", v.rule);
    append(message, message.empty() ? "" : "; ", v.message);
  }
  w.StartObject();
  put(w, "policy", e.policy);
  put(w, "rule", rules);
  put(w, "result", "fail");
  put(w, "severity", to_string(e.severity));
  put(w, "source", policy_report_source);
  put(w, "category", "network isolation");
  put(w, "message", truncate_utf8(message, report_max_message));
  put(w, "scored");
  w.Bool(true);
  put(w, "resources");
  w.StartArray();
  w.StartObject();
  put(w, "apiVersion", e.api_version);
  put(w, "kind", e.kind);
  put(w, "namespace", namespace_name);
  put(w, "name", e.name);
  if (!e.uid.empty()) put(w, "uid", e.uid);
  w.EndObject();
  w.EndArray();
  w.EndObject();
}

}  // namespace

void judge_pod(const rapidjson::Value& pod, const config& cfg, namespace_findings& findings) {
  if (!pod.IsObject()) return;
  const std::string_view name = json_string(json_member(json_member(&pod, "metadata"), "name"));
  request_facts r;
  r.kind = "Pod";
  r.operation = "CREATE";
  r.namespace_name = findings.namespace_name;
  r.name = name;
  r.object = &pod;
  decision d = validate(r, cfg);
  if (d.violations.empty()) return;
  report_entry e = entry_of(report_policy_pods, "v1", "Pod", pod);
  e.violations = std::move(d.violations);
  findings.entries.push_back(std::move(e));
  ++findings.pods;
}

void judge_tenant_policy(tenant_policy_kind kind, const rapidjson::Value& policy,
                         namespace_findings& findings) {
  if (!policy.IsObject()) return;
  if (string_label(&policy, managed_by_label) == managed_by_value) return;
  std::vector<guardrail_finding> found = check_tenant_policy(kind, policy);
  if (found.empty()) return;
  report_entry e =
      kind == tenant_policy_kind::network_policy
          ? entry_of(report_policy_tenant, "networking.k8s.io/v1", "NetworkPolicy", policy)
          : entry_of(report_policy_tenant, "cilium.io/v2", "CiliumNetworkPolicy", policy);
  e.severity = finding_severity::medium;
  for (auto& f : found) {
    if (f.severity == finding_severity::high) e.severity = finding_severity::high;
    e.violations.push_back({std::move(f.rule), std::move(f.message), std::move(f.summary)});
  }
  findings.entries.push_back(std::move(e));
  ++findings.tenant_policies;
}

policy_report build_policy_report(const namespace_findings& findings) {
  // The results first, so the summary can count exactly what fits.
  rapidjson::StringBuffer results;
  json_writer rw(results);
  rw.StartArray();
  policy_report out;
  for (const auto& e : findings.entries) {
    if (out.listed == report_max_results || results.GetSize() >= report_max_bytes) break;
    write_result(rw, e, findings.namespace_name);
    ++out.listed;
  }
  rw.EndArray();
  out.omitted = findings.entries.size() - out.listed;

  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  put(w, "apiVersion", policy_report_api_version);
  put(w, "kind", "PolicyReport");
  put(w, "metadata");
  w.StartObject();
  put(w, "name", policy_report_name);
  put(w, "namespace", findings.namespace_name);
  put(w, "labels");
  w.StartObject();
  put(w, managed_by_label, managed_by_value);
  w.EndObject();
  put(w, "annotations");
  w.StartObject();
  // Always present, so a server-side apply also clears it once everything fits again.
  put(w, results_omitted_annotation, std::to_string(out.omitted));
  w.EndObject();
  w.EndObject();
  put(w, "scope");
  w.StartObject();
  put(w, "apiVersion", "v1");
  put(w, "kind", "Namespace");
  put(w, "name", findings.namespace_name);
  w.EndObject();
  put(w, "summary");
  w.StartObject();
  for (const std::string_view k : {"pass", "fail", "warn", "error", "skip"}) {
    put(w, k);
    w.Uint64(k == "fail" ? out.listed : 0);
  }
  w.EndObject();
  put(w, "results");
  w.RawValue(results.GetString(), results.GetSize(), rapidjson::kArrayType);
  w.EndObject();
  out.json.assign(buf.GetString(), buf.GetSize());
  return out;
}

}  // namespace mlnetpol::policy
