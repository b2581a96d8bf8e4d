#include "controller/status.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "controller/policy_reporter.hpp"
#include "policy/render/clusterwide.hpp"

namespace mlnetpol::controller {

std::string status_json(const controller_status& s) {
  constexpr std::size_t most = 100;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](std::string_view v) {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("secured_namespaces");
  w.StartArray();
  for (const auto& ns : s.summary.secured_namespaces) str(ns);
  w.EndArray();
  w.Key("cilium_mode_enabled");
  w.Bool(s.summary.cilium_mode_enabled);
  w.Key("ml_policies_enabled");
  w.Bool(s.summary.ml_policies_enabled);
  w.Key("policy_count");
  w.Uint64(s.summary.policy_count);
  w.Key("managed_policy_count");
  w.Uint64(s.managed_policies);
  w.Key("rendered_policy_count");
  w.Uint64(s.summary.policy_count);
  w.Key("admission_policies");
  w.StartObject();
  w.Key("state");
  str(s.admission_policies.state);
  w.Key("api_version");
  str(s.admission_policies.api_version);
  w.Key("message");
  str(s.admission_policies.message);
  w.Key("objects");
  w.Uint64(s.admission_policies.objects);
  w.EndObject();
  w.Key("clusterwide_policy");
  w.StartObject();
  w.Key("name");
  str(policy::clusterwide_policy_name);
  w.Key("state");
  str(s.clusterwide.state);
  w.Key("message");
  str(s.clusterwide.message);
  w.EndObject();
  if (s.reports != nullptr) s.reports->write_status(w);
  w.Key("reconciler");
  w.StartObject();
  w.Key("synced");
  w.Bool(s.synced);
  w.Key("leader");
  w.Bool(s.leader);
  w.Key("identity");
  str(s.identity);
  w.Key("last_full_sync");
  if (s.last_full_sync.empty()) {
    w.Null();
  } else {
    str(s.last_full_sync);
  }
  w.Key("cilium_crd_missing");
  w.Bool(s.cilium_crd_missing);
  // Pods held by the scheduling gate, by namespace; why: `errors`.
  w.Key("gated_pods");
  w.Uint64(s.gated_pods);
  w.Key("gated");
  w.StartObject();
  for (std::size_t i = 0; i < s.gated.size() && i < most; ++i) {
    str(s.gated[i].first);
    w.Uint64(s.gated[i].second);
  }
  w.EndObject();
  w.Key("config_change_held");
  if (!s.held) {
    w.Null();
  } else {
    const auto& held = *s.held;
    w.StartObject();
    w.Key("digest");
    str(held.digest);
    w.Key("since");
    str(held.since);
    w.Key("namespaces_losing_policies");
    w.Uint64(held.check.removed.size());
    w.Key("namespaces_holding_policies");
    w.Uint64(held.check.holding);
    w.Key("allowed");
    w.Uint64(held.check.allowed);
    w.Key("namespaces");
    w.StartArray();
    for (std::size_t i = 0; i < held.check.removed.size() && i < most; ++i)
      str(held.check.removed[i]);
    w.EndArray();
    w.Key("confirm");
    str(confirm_command(s.confirm_namespace, held.digest));
    w.EndObject();
  }
  w.Key("errors");
  w.StartObject();
  for (const auto& [ns, message] : s.errors) {
    str(ns);
    str(message);
  }
  w.EndObject();
  w.Key("audit");
  w.StartObject();
  for (const auto& [ns, report] : s.audit) {
    str(ns);
    w.StartObject();
    w.Key("would_apply");
    w.Uint64(report.would_apply);
    w.Key("would_prune");
    w.Uint64(report.would_prune);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace mlnetpol::controller
