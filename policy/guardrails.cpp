#include "policy/guardrails.hpp"

#include <algorithm>
#include <charconv>

#include "common/json.hpp"
#include "policy/engine.hpp"
#include "policy/owned_labels.hpp"
#include "policy/text.hpp"
#include "policy/warnings.hpp"

namespace mlnetpol::policy {
namespace {

using json::json_member;
using json::json_string;
using rapidjson::Value;

// Prefixes shorter than these cover "every address" for the rules: a /0 split into halves or
// quarters must not pass, and no database or bucket needs more than a /8 (IPv4) or /32 (IPv6).
constexpr unsigned min_ipv4_prefix = 8;
constexpr unsigned min_ipv6_prefix = 32;
// Offending fields named per finding; the rest are counted.
constexpr std::size_t max_named_fields = 4;

// Audit annotation key (the API server prefixes it with the webhook's name; no '/').
constexpr std::string_view would_deny_annotation = "would-deny-tenant-policy";

// Cilium label keys that carry a pod's namespace in endpoint selectors.
bool is_namespace_key(std::string_view key) {
  return key == "k8s:io.kubernetes.pod.namespace" || key == "io.kubernetes.pod.namespace";
}

const Value* array_member(const Value* v, std::string_view key) {
  const Value* a = json_member(v, key);
  return a != nullptr && a->IsArray() ? a : nullptr;
}

bool non_empty_array(const Value* v, std::string_view key) {
  const Value* a = array_member(v, key);
  return a != nullptr && !a->Empty();
}

bool non_empty_object(const Value* v) {
  return v != nullptr && v->IsObject() && v->MemberCount() != 0;
}

std::string_view view(const Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

std::string index_path(std::string_view base, std::string_view member, std::size_t i) {
  return cat(base, ".", member, "[", std::to_string(i), "]");
}

// True when a CIDR (or a bare address: a host) covers more than the rules let one peer name.
// Text that is no CIDR is not wide: the API server (NetworkPolicy) and the CRD schema (Cilium)
// refuse it.
bool is_wide_cidr(std::string_view cidr) {
  const std::size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view digits = cidr.substr(slash + 1);
  unsigned prefix = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return false;
  const bool v6 = cidr.substr(0, slash).find(':') != std::string_view::npos;
  return prefix < (v6 ? min_ipv6_prefix : min_ipv4_prefix);
}

// Cilium entities that stand for every address outside the cluster (or everything).
bool is_world_entity(std::string_view e) {
  return e == "world" || e == "world-ipv4" || e == "world-ipv6" || e == "all";
}

// A toFQDNs pattern without one literal character matches every name (of that many labels).
bool is_match_everything_pattern(std::string_view pattern) {
  return !pattern.empty() &&
         std::all_of(pattern.begin(), pattern.end(), [](char c) { return c == '*' || c == '.'; });
}

// What one direction of one policy holds: fields that open it to everything, and (egress) fields
// that reach beyond the namespace.
struct direction_facts {
  std::vector<std::string> wide;    // "spec.egress[0] (no `to`: every destination)"
  std::size_t wide_count = 0;
  std::vector<std::string> beyond;  // "spec.egress[1].to[0].ipBlock"
  std::size_t beyond_count = 0;

  void add_wide(std::string what) {
    if (wide.size() < max_named_fields) wide.push_back(std::move(what));
    ++wide_count;
  }
  void add_beyond(std::string what) {
    if (beyond.size() < max_named_fields) beyond.push_back(std::move(what));
    ++beyond_count;
  }
};

// A namespaceSelector names namespaces only with a matchLabels entry or an `In` expression;
// `{}`, Exists, NotIn and DoesNotExist select every namespace (or all but a few).
bool names_namespaces(const Value& selector) {
  if (non_empty_object(json_member(&selector, "matchLabels"))) return true;
  if (const Value* expressions = array_member(&selector, "matchExpressions")) {
    for (const auto& e : expressions->GetArray()) {
      if (json_string(json_member(&e, "operator")) == "In") return true;
    }
  }
  return false;
}

// --- NetworkPolicy ---

void judge_np_peer(const Value& peer, const std::string& path, bool egress, direction_facts& f) {
  const Value* ip_block = json_member(&peer, "ipBlock");
  const Value* namespaces = json_member(&peer, "namespaceSelector");
  const Value* pods = json_member(&peer, "podSelector");
  if (ip_block != nullptr && ip_block->IsObject()) {
    const std::string_view cidr = json_string(json_member(ip_block, "cidr"));
    if (is_wide_cidr(cidr)) {
      f.add_wide(cat(path, ".ipBlock.cidr ", cidr, " (every address)"));
    } else if (egress) {
      f.add_beyond(cat(path, ".ipBlock ", cidr));
    }
    return;
  }
  if (namespaces != nullptr && namespaces->IsObject()) {
    if (!egress && !names_namespaces(*namespaces)) {
      f.add_wide(cat(path, ".namespaceSelector (names no namespace: every namespace)"));
    } else if (egress) {
      f.add_beyond(cat(path, ".namespaceSelector"));
    }
    return;
  }
  // A peer without any selector is refused by the API server; offline it means no restriction.
  if (pods == nullptr || !pods->IsObject()) f.add_wide(cat(path, " (no selector: every peer)"));
}

void judge_np_rules(const Value* spec, bool egress, direction_facts& f) {
  const std::string_view direction = egress ? "egress" : "ingress";
  const std::string_view peers = egress ? "to" : "from";
  const Value* rules = array_member(spec, direction);
  if (rules == nullptr) return;
  for (rapidjson::SizeType i = 0; i < rules->Size(); ++i) {
    const Value& rule = (*rules)[i];
    const std::string path = index_path("spec", direction, i);
    const Value* list = array_member(&rule, peers);
    if (list == nullptr || list->Empty()) {
      f.add_wide(cat(path, " (no `", peers, "`: every ", egress ? "destination" : "source", ")"));
      continue;
    }
    for (rapidjson::SizeType j = 0; j < list->Size(); ++j) {
      judge_np_peer((*list)[j], index_path(path, peers, j), egress, f);
    }
  }
}

// --- CiliumNetworkPolicy ---

// An endpoint selector's reach: its reserved: labels (world, all, ...) and namespace terms.
void judge_cilium_endpoint(const Value& selector, const std::string& path, bool egress,
                           direction_facts& f) {
  bool other_namespace = false;
  if (const Value* labels = json_member(&selector, "matchLabels"); labels && labels->IsObject()) {
    for (const auto& m : labels->GetObject()) {
      const std::string_view key = view(m.name);
      if (key.starts_with("reserved:")) {
        const std::string_view entity = key.substr(9);
        if (is_world_entity(entity) || (!egress && entity == "cluster")) {
          f.add_wide(cat(path, ".matchLabels ", key, " (every address)"));
          return;
        }
        other_namespace = true;
      } else if (is_namespace_key(key)) {
        other_namespace = true;
      }
    }
  }
  if (const Value* expressions = array_member(&selector, "matchExpressions")) {
    for (const auto& e : expressions->GetArray()) {
      const std::string_view key = json_string(json_member(&e, "key"));
      if (key.starts_with("reserved:")) {
        other_namespace = true;
        continue;
      }
      if (!is_namespace_key(key)) continue;
      if (json_string(json_member(&e, "operator")) != "In" && !egress) {
        f.add_wide(cat(path, ".matchExpressions ", key, " (every namespace)"));
        return;
      }
      other_namespace = true;
    }
  }
  if (egress && other_namespace) f.add_beyond(cat(path, " (other namespaces)"));
}

void judge_cilium_cidrs(const Value& rule, const std::string& path, std::string_view prefix,
                        bool egress, direction_facts& f) {
  const std::string cidr_key = cat(prefix, "CIDR");
  const std::string set_key = cat(prefix, "CIDRSet");
  if (const Value* cidrs = array_member(&rule, cidr_key)) {
    for (rapidjson::SizeType j = 0; j < cidrs->Size(); ++j) {
      const std::string_view cidr = view((*cidrs)[j]);
      const std::string where = index_path(path, cidr_key, j);
      if (is_wide_cidr(cidr)) {
        f.add_wide(cat(where, " ", cidr, " (every address)"));
      } else if (egress) {
        f.add_beyond(cat(where, " ", cidr));
      }
    }
  }
  if (const Value* sets = array_member(&rule, set_key)) {
    for (rapidjson::SizeType j = 0; j < sets->Size(); ++j) {
      const std::string_view cidr = json_string(json_member(&(*sets)[j], "cidr"));
      const std::string where = index_path(path, set_key, j);
      if (is_wide_cidr(cidr)) {
        f.add_wide(cat(where, ".cidr ", cidr, " (every address)"));
      } else if (egress) {
        f.add_beyond(cidr.empty() ? where : cat(where, " ", cidr));
      }
    }
  }
}

void judge_cilium_rules(const Value* spec, std::string_view base, bool egress,
                        direction_facts& f) {
  const std::string_view direction = egress ? "egress" : "ingress";
  const std::string_view prefix = egress ? "to" : "from";
  const Value* rules = array_member(spec, direction);
  if (rules == nullptr) return;
  const std::string endpoints_key = cat(prefix, "Endpoints");
  const std::string entities_key = cat(prefix, "Entities");
  // Peers besides endpoints, CIDRs and entities; each names specific destinations or sources.
  static constexpr std::string_view other_egress[] = {"toServices", "toFQDNs", "toGroups",
                                                      "toNodes"};
  static constexpr std::string_view other_ingress[] = {"fromGroups", "fromNodes"};
  for (rapidjson::SizeType i = 0; i < rules->Size(); ++i) {
    const Value& rule = (*rules)[i];
    if (!rule.IsObject()) continue;
    const std::string path = index_path(base, direction, i);
    bool has_peer = false;
    if (const Value* endpoints = array_member(&rule, endpoints_key)) {
      has_peer |= !endpoints->Empty();
      for (rapidjson::SizeType j = 0; j < endpoints->Size(); ++j) {
        judge_cilium_endpoint((*endpoints)[j], index_path(path, endpoints_key, j), egress, f);
      }
    }
    has_peer |= non_empty_array(&rule, cat(prefix, "CIDR")) ||
                non_empty_array(&rule, cat(prefix, "CIDRSet"));
    judge_cilium_cidrs(rule, path, prefix, egress, f);
    if (const Value* entities = array_member(&rule, entities_key)) {
      has_peer |= !entities->Empty();
      for (rapidjson::SizeType j = 0; j < entities->Size(); ++j) {
        const std::string_view entity = view((*entities)[j]);
        const std::string where = index_path(path, entities_key, j);
        if (is_world_entity(entity) || (!egress && entity == "cluster")) {
          f.add_wide(cat(where, " ", entity, entity == "cluster" ? " (every namespace)"
                                                                 : " (every address)"));
        } else if (egress) {
          f.add_beyond(cat(where, " ", entity));
        }
      }
    }
    if (egress) {
      for (const std::string_view key : other_egress) {
        const Value* peers = array_member(&rule, key);
        if (peers == nullptr || peers->Empty()) continue;
        has_peer = true;
        if (key != "toFQDNs") {
          f.add_beyond(cat(path, ".", key));
          continue;
        }
        for (rapidjson::SizeType j = 0; j < peers->Size(); ++j) {
          const std::string where = index_path(path, key, j);
          const std::string_view pattern = json_string(json_member(&(*peers)[j], "matchPattern"));
          if (is_match_everything_pattern(pattern)) {
            f.add_wide(cat(where, ".matchPattern \"", pattern, "\" (every name)"));
          } else {
            const std::string_view name = json_string(json_member(&(*peers)[j], "matchName"));
            f.add_beyond(cat(where, " ", name.empty() ? pattern : name));
          }
        }
      }
    } else {
      for (const std::string_view key : other_ingress) has_peer |= non_empty_array(&rule, key);
    }
    // Cilium applies ports without a peer to every peer; a rule with neither allows nothing.
    if (!has_peer && (non_empty_array(&rule, "toPorts") || non_empty_array(&rule, "icmps"))) {
      f.add_wide(cat(path, " (ports without `", prefix, "...`: every ",
                     egress ? "destination" : "source", ")"));
    }
  }
}

// --- messages ---

std::string describe(tenant_policy_kind kind, const Value& object) {
  const std::string_view name = json_string(json_member(json_member(&object, "metadata"), "name"));
  return cat(kind == tenant_policy_kind::network_policy ? "NetworkPolicy" : "CiliumNetworkPolicy",
             " \"", name, "\"");
}

void append_fields(std::string& out, const std::vector<std::string>& fields, std::size_t count) {
  for (std::size_t i = 0; i < fields.size(); ++i) append(out, i == 0 ? "" : "; ", fields[i]);
  if (count > fields.size()) append(out, "; and ", std::to_string(count - fields.size()), " more");
}

guardrail_finding wide_finding(tenant_policy_kind kind, const std::string& subject,
                               const direction_facts& f, bool egress) {
  const bool np = kind == tenant_policy_kind::network_policy;
  guardrail_finding out;
  out.rule = egress ? rule_tenant_egress_all : rule_tenant_ingress_all;
  out.severity = finding_severity::high;
  out.message = cat(subject, egress ? " allows egress to every address: "
                                    : " allows ingress from every namespace or address: ");
  append_fields(out.message, f.wide, f.wide_count);
  out.message += egress
                     ? ". Policies add up, so this undoes the namespace's default deny. Fix: name "
                       "the destinations the pods need instead"
                     : ". Policies add up, so this undoes the namespace's default deny. Fix: name "
                       "the sources instead";
  if (egress) {
    out.message += np ? " (podSelector for pods of this namespace, namespaceSelector.matchLabels "
                        "for another namespace, ipBlock with a narrow CIDR such as a database's "
                        "10.0.12.0/24)"
                      : " (toEndpoints, toServices, toCIDR with a narrow CIDR such as a database's "
                        "10.0.12.0/24, toFQDNs matchName for a bucket)";
    append(out.message, ", and say why in annotation ", exception_reason_annotation);
  } else {
    out.message += np ? " (podSelector for pods of this namespace, namespaceSelector.matchLabels "
                        "such as kubernetes.io/metadata.name: ingress-nginx, ipBlock with the load "
                        "balancer's subnet)"
                      : " (fromEndpoints with k8s:io.kubernetes.pod.namespace: ingress-nginx, "
                        "fromCIDR with the load balancer's subnet)";
  }
  out.summary = truncate_utf8(
      cat(subject, egress ? ": egress to every address (" : ": ingress from everywhere (",
          f.wide.front(), "); name the peers instead"),
      max_warning_length);
  return out;
}

guardrail_finding undocumented_finding(const std::string& subject, const direction_facts& f) {
  guardrail_finding out;
  out.rule = rule_tenant_exception_undocumented;
  out.severity = finding_severity::medium;
  out.message = cat(subject, " allows egress beyond its namespace (");
  append_fields(out.message, f.beyond, f.beyond_count);
  append(out.message, ") without annotation ", exception_reason_annotation,
         ". Every such exception must say why. Fix: add metadata.annotations[\"",
         exception_reason_annotation,
         "\"] with the reason (e.g. \"training reads the feature store at 10.0.12.5:5432\")");
  out.summary = truncate_utf8(cat(subject, ": egress beyond the namespace needs annotation ",
                                  exception_reason_annotation),
                              max_warning_length);
  return out;
}

bool documented(const Value& object) {
  const std::optional<std::string_view> reason =
      json::map_value(json_member(&object, "metadata"), "annotations", exception_reason_annotation);
  return reason && std::any_of(reason->begin(), reason->end(), [](char c) {
           return c != ' ' && c != '\t' && c != '\n' && c != '\r';
         });
}

}  // namespace

bool is_tenant_policy_rule(std::string_view rule) {
  return rule == rule_tenant_egress_all || rule == rule_tenant_ingress_all ||
         rule == rule_tenant_exception_undocumented;
}

std::optional<tenant_policy_kind> tenant_policy_kind_of(std::string_view group,
                                                        std::string_view kind) {
  if (group == "networking.k8s.io" && kind == "NetworkPolicy") {
    return tenant_policy_kind::network_policy;
  }
  if (group == "cilium.io" && kind == "CiliumNetworkPolicy") {
    return tenant_policy_kind::cilium_network_policy;
  }
  return std::nullopt;
}

std::vector<guardrail_finding> check_tenant_policy(tenant_policy_kind kind, const Value& object) {
  direction_facts egress, ingress;
  const Value* spec = json_member(&object, "spec");
  if (kind == tenant_policy_kind::network_policy) {
    judge_np_rules(spec, true, egress);
    judge_np_rules(spec, false, ingress);
  } else {
    if (spec != nullptr && spec->IsObject()) {
      judge_cilium_rules(spec, "spec", true, egress);
      judge_cilium_rules(spec, "spec", false, ingress);
    }
    if (const Value* specs = array_member(&object, "specs")) {
      for (rapidjson::SizeType i = 0; i < specs->Size(); ++i) {
        const std::string base = cat("specs[", std::to_string(i), "]");
        judge_cilium_rules(&(*specs)[i], base, true, egress);
        judge_cilium_rules(&(*specs)[i], base, false, ingress);
      }
    }
  }
  std::vector<guardrail_finding> out;
  if (egress.wide_count == 0 && ingress.wide_count == 0 && egress.beyond_count == 0) return out;
  const std::string subject = describe(kind, object);
  if (egress.wide_count != 0) out.push_back(wide_finding(kind, subject, egress, true));
  if (ingress.wide_count != 0) out.push_back(wide_finding(kind, subject, ingress, false));
  // Wide egress reaches beyond the namespace too: fixing it still needs the reason.
  for (const auto& w : egress.wide) egress.beyond.insert(egress.beyond.end(), w);
  egress.beyond.resize(std::min(egress.beyond.size(), max_named_fields));
  egress.beyond_count += egress.wide_count;
  if (egress.beyond_count != 0 && !documented(object)) {
    out.push_back(undocumented_finding(subject, egress));
  }
  return out;
}

void apply_tenant_policy_guardrails(const request_facts& r, const config& cfg, bool roles_secured,
                                    decision& d) {
  const auto kind = tenant_policy_kind_of(r.group, r.kind);
  if (!kind || !roles_secured || r.object == nullptr || !r.object->IsObject()) return;
  if (r.operation != "CREATE" && r.operation != "UPDATE") return;
  if (is_privileged(cfg, r.username, r.groups)) return;
  std::vector<guardrail_finding> findings = check_tenant_policy(*kind, *r.object);
  if (findings.empty()) return;
  const enforcement_mode mode = cfg.tenant_policy_guardrails;
  std::string audit_value;
  for (auto& f : findings) {
    switch (mode) {
      case enforcement_mode::enforce:
        append(d.message, d.message.empty() ? "" : "; ", f.message);
        break;
      case enforcement_mode::warn:
        d.warnings.push_back(f.summary);
        break;
      case enforcement_mode::audit:
        d.warnings.push_back(cat("would deny: ", f.summary));
        append(audit_value, audit_value.empty() ? "" : "; ", f.message);
        break;
    }
    d.violations.push_back({std::move(f.rule), std::move(f.message), std::move(f.summary)});
  }
  switch (mode) {
    case enforcement_mode::enforce:
      d.allowed = false;
      d.code = 403;
      d.result = outcome::denied;
      break;
    case enforcement_mode::warn:
      if (d.result != outcome::denied) d.result = outcome::warned;
      break;
    case enforcement_mode::audit:
      if (d.result != outcome::denied && d.result != outcome::warned) d.result = outcome::audited;
      d.audit_annotations.emplace_back(std::string(would_deny_annotation), std::move(audit_value));
      break;
  }
}

}  // namespace mlnetpol::policy
