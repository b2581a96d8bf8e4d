#include "admission/label_webhook.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admission/json_patch.hpp"
#include "policy/config_parse.hpp"
#include "policy/engine.hpp"
#include "policy/guardrails.hpp"
#include "policy/kinds.hpp"
#include "policy/policy_set.hpp"
#include "policy/warnings.hpp"

namespace mlnetpol::admission {
namespace {

bool is_namespace_request(const review_request& r) {
  return r.kind.group.empty() && r.kind.kind == "Namespace";
}

// Takes the decision's message, warnings and violations over instead of copying them (a denial's
// message is long); its additions stay for the patch.
review_response to_response(policy::decision& d, const policy::config& cfg) {
  review_response out;
  out.allowed = d.allowed;
  out.code = d.code;
  out.message = std::move(d.message);
  if (d.code == 403) out.reason = "Forbidden";
  out.warnings = std::move(d.warnings);
  out.audit_annotations = std::move(d.audit_annotations);
  out.detail = std::move(d.detail);
  out.decision = std::string(policy::to_string(d.result));
  out.mode = policy::to_string(d.mode);
  for (const auto& v : d.violations) {
    // The guardrails' violations count under their own mode.
    const std::string_view mode = policy::is_tenant_policy_rule(v.rule)
                                      ? policy::to_string(cfg.tenant_policy_guardrails)
                                      : out.mode;
    out.violations.push_back({v.rule, mode});
  }
  return out;
}

}  // namespace

label_webhook::label_webhook(const snapshot<policy::config>& config,
                             const policy::namespace_lookup* namespaces)
    : config_(config), namespaces_(namespaces) {}

handler& label_webhook::mutate() {
  return mutate_;
}
handler& label_webhook::validate() {
  return validate_;
}

review_response label_webhook::evaluate(const review_request& request, bool mutating) const {
  const std::shared_ptr<const policy::config> cfg = config_.get();
  std::shared_ptr<const policy::label_map> ns_labels;
  std::optional<policy::policy_set_state> policy_set;
  if (namespaces_ != nullptr && !is_namespace_request(request)) {
    ns_labels = namespaces_->labels_of(request.namespace_name);
    // Only a Pod CREATE can be gated: no render or hash for any other request.
    if (mutating && request.operation == "CREATE" &&
        policy::is_pod_kind(request.kind.group, request.kind.kind)) {
      policy_set = namespaces_->policy_set_of(request.namespace_name);
    }
  }

  policy::request_facts facts;
  facts.group = request.kind.group;
  facts.kind = request.kind.kind;
  facts.sub_resource = request.sub_resource;
  facts.operation = request.operation;
  facts.namespace_name = request.namespace_name;
  facts.name = request.name;
  facts.username = request.user.username;
  facts.groups = request.user.groups;
  facts.dry_run = request.dry_run;
  facts.object = request.object;
  facts.old_object = request.old_object;
  facts.namespace_labels = ns_labels.get();
  facts.policy_set = policy_set ? &*policy_set : nullptr;

  policy::decision d = mutating ? policy::mutate(facts, *cfg) : policy::validate(facts, *cfg);
  review_response response = to_response(d, *cfg);
  if ((!d.additions.empty() || d.scheduling_gate) && request.object != nullptr) {
    auto patch = patch_for_mutation(*request.object, d.additions,
                                    d.scheduling_gate ? policy::policy_set_gate : "");
    if (patch) {
      response.patch = std::move(*patch);
    } else {
      // An object whose metadata is malformed cannot be patched; admission decides on it without
      // the label (validation denies it when the label is required).
      response.warnings.push_back("mlnetpol could not label this object: " + patch.error().message);
      response.warnings = policy::fit_warnings(response.warnings);
    }
  }
  if (mutating && response.patch.empty() &&
      response.decision == policy::to_string(policy::outcome::patched)) {
    response.decision = policy::to_string(policy::outcome::allowed);
  }
  return response;
}

}  // namespace mlnetpol::admission
