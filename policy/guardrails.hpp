#pragma once
// Guardrails for tenant policies: the one home of the rules that judge a NetworkPolicy or
// CiliumNetworkPolicy a tenant writes in a secured namespace. Policies are additive, so one
// tenant policy that allows everything undoes mlnetpol's default deny; these rules refuse that
// and ask every exception to be documented (the module's "document exceptions").
//
// check_tenant_policy() is pure (object in, findings out) and is what the validating webhook,
// `mlnetpol review` (through the webhook) and a PolicyReport use. It walks the fixed shape of a
// policy with loops (no recursion) in time linear in the object's size; findings are at most one
// per rule, naming the first few offending fields.
//
// The rules (docs/policies.md, "Guardrails for tenant policies"):
// - tenant-policy-egress-all: an egress rule reaches every address: a NetworkPolicy rule without
//   `to` (`{}`, `to: []`, ports only), an ipBlock or toCIDR/toCIDRSet whose prefix is shorter
//   than /8 (IPv4) or /32 (IPv6) (0.0.0.0/0 and ::/0 included, except lists do not narrow it),
//   Cilium toEntities world, world-ipv4, world-ipv6 or all (or the same reserved: labels in
//   toEndpoints), a toFQDNs matchPattern without a literal character (`*`), or a Cilium rule
//   with toPorts/icmps and no destination (Cilium then allows those ports to every address).
// - tenant-policy-ingress-all: an ingress rule admits every namespace or address: a NetworkPolicy
//   rule without `from`, an ipBlock/fromCIDR/fromCIDRSet as wide as above, a namespaceSelector
//   that names no namespace (no matchLabels entry and no `In` expression: `{}`, Exists, NotIn,
//   DoesNotExist), Cilium fromEntities world, world-ipv4, world-ipv6, all or cluster, a
//   fromEndpoints selector over every namespace, or a Cilium rule with toPorts/icmps and no source.
// - tenant-policy-exception-undocumented: the policy allows egress beyond its own namespace
//   (any egress peer but a pod selector of the namespace itself) and has no non-blank annotation
//   mlnetpol.io/exception-reason saying why.
// A Cilium rule that is empty (`{}`) allows nothing (it only turns default deny on) and is not
// wide; ingressDeny/egressDeny rules only take traffic away and are not judged.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/config.hpp"
#include "policy/decision.hpp"

namespace mlnetpol::policy {

struct request_facts;

// The annotation that documents why a tenant policy allows egress beyond its namespace.
inline constexpr std::string_view exception_reason_annotation = "mlnetpol.io/exception-reason";

// Rule ids, as in findings, admission violations and the metric mlnetpol_policy_violations_total.
inline constexpr std::string_view rule_tenant_egress_all = "tenant-policy-egress-all";
inline constexpr std::string_view rule_tenant_ingress_all = "tenant-policy-ingress-all";
inline constexpr std::string_view rule_tenant_exception_undocumented =
    "tenant-policy-exception-undocumented";

// A subset of the PolicyReport (wgpolicyk8s.io/v1alpha2) result severities.
enum class finding_severity { high, medium };
constexpr std::string_view to_string(finding_severity s) {
  return s == finding_severity::high ? "high" : "medium";
}

struct guardrail_finding {
  std::string_view rule;  // one of rule_tenant_* (static)
  finding_severity severity = finding_severity::high;
  std::string message;  // what is too wide, how to narrow it, which annotation documents it
  std::string summary;  // one line of at most about 120 characters, for admission warnings
};

// Whether a violation's rule is one of the guardrails' (its mode is cfg.tenant_policy_guardrails,
// not the decision's).
bool is_tenant_policy_rule(std::string_view rule);

enum class tenant_policy_kind { network_policy, cilium_network_policy };

// networking.k8s.io NetworkPolicy and cilium.io CiliumNetworkPolicy; nullopt for any other kind
// (CiliumClusterwideNetworkPolicy is cluster-scoped: no tenant writes it).
std::optional<tenant_policy_kind> tenant_policy_kind_of(std::string_view group,
                                                        std::string_view kind);

// The findings for one policy object (apiVersion/kind need not be set; metadata.name and
// metadata.annotations and spec, or for Cilium spec and specs[], are read). Empty: it passes.
std::vector<guardrail_finding> check_tenant_policy(tenant_policy_kind kind,
                                                   const rapidjson::Value& object);

// The admission side: when request is a CREATE or UPDATE of a tenant policy in a secured
// namespace (roles_secured) by anyone but cfg.service_account and the admin_groups, folds the
// findings into d under cfg.tenant_policy_guardrails: enforce denies (403, the messages), warn
// adds warnings, audit adds "would deny" warnings and an audit annotation. Exempt namespaces,
// users and groups never get here.
void apply_tenant_policy_guardrails(const request_facts& request, const config& cfg,
                                    bool roles_secured, decision& d);

}  // namespace mlnetpol::policy
