#include "policy/engine.hpp"

#include <algorithm>
#include <optional>
#include <span>

#include "common/json.hpp"
#include "common/text.hpp"
#include "policy/config_parse.hpp"
#include "policy/guardrails.hpp"
#include "policy/inference.hpp"
#include "policy/json_index.hpp"
#include "policy/kinds.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"
#include "policy/owned_labels.hpp"
#include "policy/policy_set.hpp"
#include "policy/scheduling_gate.hpp"
#include "policy/template_fields.hpp"
#include "policy/text.hpp"
#include "policy/warnings.hpp"

namespace mlnetpol::policy {
namespace {

using json::json_member;
using json::json_string;
using json::map_value;
using json::string_label;
using text::append_joined;
using text::join;

// Audit annotation keys: the API server prefixes them with "<webhook name>/", so they must be a
// qualified name's name part (no '/').
constexpr std::string_view would_add_annotation = "would-add-label";
constexpr std::string_view would_deny_annotation = "would-deny";

enum class kind_class { namespace_kind, pod, workload, network_policy, other };

kind_class classify(const request_facts& r) {
  if (r.group.empty() && r.kind == "Namespace") return kind_class::namespace_kind;
  if (is_pod_kind(r.group, r.kind)) return kind_class::pod;
  if (is_workload_kind(r.group, r.kind)) return kind_class::workload;
  if (is_network_policy_kind(r.group, r.kind)) return kind_class::network_policy;
  return kind_class::other;
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string str(std::string_view s) {
  return std::string(s);
}

// The namespace a request is about: a Namespace's own name, else request.namespace.
std::string namespace_of(const request_facts& r, kind_class k) {
  if (k != kind_class::namespace_kind) return str(r.namespace_name);
  for (const rapidjson::Value* o : {r.object, r.old_object}) {
    const std::string_view name = json_string(json_member(json_member(o, "metadata"), "name"));
    if (!name.empty()) return str(name);
  }
  return str(r.name.empty() ? r.namespace_name : r.name);
}

// The state shared by mutate and validate for one request.
struct context {
  const request_facts& request;
  const config& cfg;
  kind_class kind;
  std::string namespace_name;
  namespace_roles roles;
  decision result;
};

// The mode under a namespace's mlnetpol.io/enforcement label value (nullopt: no such label); an
// invalid value keeps the configured mode and sets *problem to a warning naming it.
enforcement_mode mode_for_label(const config& cfg, std::optional<std::string_view> value,
                                std::string_view namespace_name, std::string* problem) {
  if (!value) return cfg.enforcement;
  if (auto mode = parse_enforcement_mode(*value)) return *mode;
  if (problem != nullptr) {
    *problem = cat("namespace ", namespace_name, ": ignoring ", enforcement_label, "=", *value,
                   " (expected enforce, warn or audit)");
  }
  return cfg.enforcement;
}

// A write to a pod's status sub-resource: it can change the pod's labels too.
bool is_pod_status(const context& c) {
  return c.kind == kind_class::pod && c.request.sub_resource == "status";
}

// Returns true when the decision is final before any rule runs (disabled, other sub-resources,
// other kinds, exemptions).
bool settle_early(context& c) {
  const request_facts& r = c.request;
  if (!c.cfg.enabled || (!r.sub_resource.empty() && !is_pod_status(c)) ||
      c.kind == kind_class::other) {
    return true;
  }
  const bool exempt = contains(c.cfg.exempt_namespaces, c.namespace_name) ||
                      contains(c.cfg.exempt_users, r.username) ||
                      std::any_of(r.groups.begin(), r.groups.end(), [&](std::string_view g) {
                        return contains(c.cfg.exempt_groups, g);
                      });
  if (exempt) {
    c.result.result = outcome::exempt;
    return true;
  }
  std::string problem;
  if (c.kind == kind_class::namespace_kind) {
    // A Namespace is judged on its own labels: only the one label is read, not a map of them all.
    const auto label =
        string_label(r.object != nullptr ? r.object : r.old_object, enforcement_label);
    c.result.mode = mode_for_label(c.cfg, label, c.namespace_name, &problem);
  } else {
    c.result.mode = effective_mode(c.cfg, r.namespace_labels, c.namespace_name, &problem);
  }
  if (!problem.empty()) c.result.warnings.push_back(problem);
  return false;
}

// What a message calls the object: "pod \"web-7d9f\"" / "Deployment \"web\"" /
// "pod with generateName \"train-\"", then " (<template path>)" for a template. Views: a message
// is written in one string, sized once.
struct subject {
  std::string_view kind;
  std::string_view name;           // metadata.name, else the request's name
  std::string_view generate_name;  // when there is no name
  std::string_view template_path;  // "" for the object itself

  // The words around the names, once: size() counts exactly what append_to() writes.
  static constexpr std::string_view named_open = " \"", named_close = "\"",
                                    generated_open = " with generateName \"",
                                    unnamed = " (unnamed)", path_open = " (", path_close = ")";

  std::size_t size() const {
    const std::size_t own = !name.empty() ? named_open.size() + name.size() + named_close.size()
                            : !generate_name.empty()
                                ? generated_open.size() + generate_name.size() + named_close.size()
                                : unnamed.size();
    return kind.size() + own +
           (template_path.empty() ? 0
                                  : path_open.size() + template_path.size() + path_close.size());
  }
  void append_to(std::string& out) const {
    if (!name.empty()) {
      append(out, kind, named_open, name, named_close);
    } else if (!generate_name.empty()) {
      append(out, kind, generated_open, generate_name, named_close);
    } else {
      append(out, kind, unnamed);
    }
    if (!template_path.empty()) append(out, path_open, template_path, path_close);
  }
};

subject subject_of(const request_facts& r, const rapidjson::Value* object,
                   std::string_view template_path = {}) {
  subject out;
  out.kind = is_pod_kind(r.group, r.kind) ? "pod" : r.kind;
  const rapidjson::Value* metadata = json_member(object, "metadata");
  out.name = json_string(json_member(metadata, "name"));
  if (out.name.empty()) out.name = r.name;
  if (out.name.empty()) out.generate_name = json_string(json_member(metadata, "generateName"));
  out.template_path = template_path;
  return out;
}

std::string describe_object(const request_facts& r, const rapidjson::Value* object,
                            std::string_view template_path = {}) {
  const subject s = subject_of(r, object, template_path);
  std::string out;
  out.reserve(s.size());
  s.append_to(out);
  return out;
}

// --- mutation ---

struct planned_label {
  map_entry entry;
  std::string note;  // "would add label k=v (inferred from ...)"
  std::string audit_value;
};
// A pod's label and its source annotation: inline.
using planned_list = boost::container::small_vector<planned_label, 2>;

// The owner kind whose pods a site describes: the pod's controller, or the workload itself (a Job
// template's pods are owned by that Job; a CronJob's by the Jobs it creates).
// A view into the request or the object (or a literal): no copy per request.
std::string_view owner_kind_for(const context& c, const rapidjson::Value& object) {
  if (c.kind == kind_class::pod) return controller_owner_kind(json_member(&object, "metadata"));
  if (c.request.kind == "CronJob") return "Job";
  return c.request.kind;
}

// Appends the labels to add at site to out. Notes and audit values are only read under audit, so
// only then are they written.
void plan_site(const context& c, const rapidjson::Value& object, const pod_site& site,
               planned_list& out) {
  if (!c.roles.ml()) return;
  // Never overwrite: any value (even an invalid one) is the user's and validation judges it.
  if (map_value(site.metadata, "labels", c.cfg.label_key)) return;
  const bool audit = c.result.mode == enforcement_mode::audit;
  inference_result inferred = infer_workload_type(c.roles, c.namespace_name,
                                                  owner_kind_for(c, object), site.metadata, audit);
  if (!inferred.value) return;
  const std::string& key = c.cfg.label_key;
  const std::string& value = *inferred.value;
  planned_label& label = out.emplace_back();
  if (audit) {
    const bool in_template = !site.template_path.empty();
    label.note = cat("would add label ", key, "=", value, in_template ? " to " : "",
                     site.template_path, " (inferred from ", inferred.text, ")");
    label.audit_value = cat(site.template_path, in_template ? ": " : "", key, "=", value, " (",
                            inferred.annotation, ")");
  }
  // Member by member: no temporary entry to build and move in.
  label.entry.metadata_path = site.metadata_path;
  label.entry.map_name = "labels";
  label.entry.key = key;
  label.entry.value = value;
  if (!map_value(site.metadata, "annotations", source_annotation)) {
    map_entry& annotation = out.emplace_back().entry;
    annotation.metadata_path = site.metadata_path;
    annotation.map_name = "annotations";
    annotation.key = source_annotation;
    annotation.value = std::move(inferred.annotation);
  }
}

planned_list plan_namespace(context& c, const rapidjson::Value& object) {
  planned_list out;
  const namespace_roles& roles = c.roles;
  if (!roles.secured && !roles.ml()) return out;
  const rapidjson::Value* metadata = json_member(&object, "metadata");
  auto set = [&](std::string_view key, std::string_view value) {
    // Owned labels are put back when removed or changed.
    if (map_value(metadata, "labels", key) == value) return;
    planned_label label;
    label.entry = {{"metadata"}, "labels", str(key), str(value)};
    label.note =
        "would add label " + str(key) + "=" + str(value) + " to namespace " + c.namespace_name;
    label.audit_value = str(key) + "=" + str(value);
    out.push_back(std::move(label));
  };
  for (const std::string_view key : wanted_role_labels(roles)) set(key, role_label_value);
  if (const auto type = namespace_workload_type(roles)) {
    const auto current = map_value(metadata, "labels", c.cfg.label_key);
    if (!current) {
      set(c.cfg.label_key, *type);
    } else if (*current != *type) {
      c.result.warnings.push_back("namespace " + c.namespace_name + ": label " + c.cfg.label_key +
                                  "=" + str(*current) + " left as is; its mlnetpol role is " +
                                  str(*type));
    }
  }
  return out;
}

// The pod sites a request writes: all of them on CREATE; on UPDATE only templates whose
// written_template_fields changed (policy/template_fields.hpp; the admission policies' CEL
// compares the same), so other updates (finalizers, owner references, an image) of workloads that
// predate mlnetpol are neither patched (no surprise rollout) nor denied (no stuck deletion).
pod_site_list written_sites(const request_facts& r) {
  pod_site_list sites = pod_sites(r.group, r.kind, *r.object);
  if (r.operation != "UPDATE" || r.old_object == nullptr) return sites;
  const pod_site_list old_sites = pod_sites(r.group, r.kind, *r.old_object);
  // Sorted by path, each new site is compared with the old site at its path only (n log n, not
  // n²). Several old sites share a path only when the old object repeats a replica type's key,
  // which the API server never sends; then the first counts, as FindMember and the patch see it.
  std::vector<const pod_site*> by_path;
  by_path.reserve(old_sites.size());
  for (const auto& old : old_sites) by_path.push_back(&old);
  std::stable_sort(by_path.begin(), by_path.end(), [](const pod_site* a, const pod_site* b) {
    return a->template_path < b->template_path;
  });
  auto same = [](const rapidjson::Value* a, const rapidjson::Value* b) {
    if (a == nullptr || b == nullptr) return a == b;
    return json_equal(*a, *b);
  };
  // A maps_only site's metadata is the object holding the maps, and it has no spec.
  auto field = [](const pod_site& s, const template_field& f) -> const rapidjson::Value* {
    if (s.maps_only) return f.parent == "metadata" ? json_member(s.metadata, f.name) : nullptr;
    return json_member(f.parent == "metadata" ? s.metadata : s.spec, f.name);
  };
  // Only the fields a decision reads: an image or a TrainJob's suspend changing writes no label.
  auto same_site = [&](const pod_site& old, const pod_site& site) {
    return std::all_of(
        written_template_fields.begin(), written_template_fields.end(),
        [&](const template_field& f) { return same(field(old, f), field(site, f)); });
  };
  sites.erase(std::remove_if(sites.begin(), sites.end(),
                             [&](const pod_site& site) {
                               const auto old = std::lower_bound(
                                   by_path.begin(), by_path.end(), site.template_path,
                                   [](const pod_site* o, const std::string& path) {
                                     return o->template_path < path;
                                   });
                               return old != by_path.end() &&
                                      (*old)->template_path == site.template_path &&
                                      same_site(**old, site);
                             }),
              sites.end());
  return sites;
}

planned_list plan(context& c) {
  const request_facts& r = c.request;
  planned_list out;
  if (r.object == nullptr || !r.object->IsObject()) return out;
  const bool create = r.operation == "CREATE";
  const bool update = r.operation == "UPDATE";
  switch (c.kind) {
    case kind_class::namespace_kind:
      if (create || update) out = plan_namespace(c, *r.object);
      break;
    case kind_class::pod:
    case kind_class::workload:
      // Pods are labelled when created (so every rollout's pods carry the label); templates
      // whenever they are written (written_sites).
      if (create || (update && c.kind == kind_class::workload)) {
        for (const auto& site : written_sites(r)) plan_site(c, *r.object, site, out);
      }
      break;
    default:
      break;
  }
  return out;
}

// The scheduling gate and its label for a Pod CREATE whose namespace's set is not in place yet;
// also the label for a pod created with mlnetpol's gate already on it, so the leader finds and
// releases it too. Never under audit (nothing is applied, nothing would release it). Returns true
// when it planned something.
bool plan_gate(context& c, planned_list& out) {
  const request_facts& r = c.request;
  if (c.kind != kind_class::pod || !r.sub_resource.empty() || r.operation != "CREATE" ||
      r.object == nullptr || !r.object->IsObject() || r.policy_set == nullptr ||
      c.result.mode == enforcement_mode::audit) {
    return false;
  }
  const bool present = policy_set_gate_index(json_member(r.object, "spec")).has_value();
  const bool needed =
      needs_scheduling_gate(r.operation, c.roles.secured, c.result.mode, r.policy_set);
  if (!needed && !present) return false;
  c.result.scheduling_gate = needed && !present;
  const rapidjson::Value* metadata = json_member(r.object, "metadata");
  if (map_value(metadata, "labels", policy_set_gated_label) != role_label_value) {
    out.emplace_back().entry = {
        {"metadata"}, "labels", str(policy_set_gated_label), str(role_label_value)};
  }
  return true;
}

// --- validation ---

// The value the fix suggests: "training", or "training (or inference)".
void append_fix_value(std::string& out, const workload_types& allowed) {
  const auto values = allowed.view();
  out += values.front();
  if (values.size() > 1) {
    out += " (or ";
    append_joined(out, values.subspan(1), ", ");
    out += ')';
  }
}

// Appends "metadata.labels.workload-type: training to the pod (or ...)"; preposition is "to" or
// "on".
// The controller kind a fix on the pod itself names; "" for a template (its fix names no owner).
std::string_view pod_owner_kind(const rapidjson::Value& object, const pod_site& site) {
  if (!site.template_path.empty()) return {};
  return controller_owner_kind(json_member(&object, "metadata"));
}

// pod_owner: pod_owner_kind's answer.
void append_fix_location(std::string& out, const context& c, const pod_site& site,
                         const workload_types& allowed, std::string_view pod_owner,
                         std::string_view preposition) {
  const std::string& key = c.cfg.label_key;
  if (!site.template_path.empty()) {
    append(out, labels_path(site), ".", key, ": ");
    append_fix_value(out, allowed);
    return;
  }
  append(out, "metadata.labels.", key, ": ");
  append_fix_value(out, allowed);
  append(out, " ", preposition, " the pod");
  if (pod_owner == "ReplicaSet") {
    out += " (or its Deployment's spec.template.metadata.labels)";
  } else if (!pod_owner.empty()) {
    append(out, " (or its ", pod_owner, "'s pod template labels)");
  }
}

std::optional<std::string> label_after(const context& c, const rapidjson::Value& object,
                                       const pod_site& site, bool overlay_inferred) {
  if (auto value = map_value(site.metadata, "labels", c.cfg.label_key)) return str(*value);
  if (!overlay_inferred) return std::nullopt;
  planned_list planned;
  plan_site(c, object, site, planned);
  for (auto& label : planned) {
    if (label.entry.map_name == "labels") return std::move(label.entry.value);
  }
  return std::nullopt;
}

void check_site(context& c, const rapidjson::Value& object, const pod_site& site,
                violation_list& out) {
  const std::string_view ns = c.namespace_name;
  const workload_types allowed = allowed_workload_type_set(c.roles);
  const std::string& key = c.cfg.label_key;
  const bool overlay = c.result.mode == enforcement_mode::audit;
  const std::optional<std::string> value = label_after(c, object, site, overlay);
  if (value && allowed.contains(*value)) return;
  const subject about = subject_of(c.request, &object, site.template_path);
  // Room for a message's fixed words, so appending the parts does not grow it again.
  const std::size_t message_size = 320 + 2 * about.size() + ns.size() + 2 * key.size() +
                                   2 * site.template_path.size() + (value ? value->size() : 0);
  // Only warnings read a summary: under enforce none is written.
  const bool summarize = c.result.mode != enforcement_mode::enforce;
  violation& v = out.emplace_back();
  v.message.reserve(message_size);
  about.append_to(v.message);
  if (summarize) {
    // The allowed values too: grown once.
    v.summary.reserve(about.size() + key.size() + ns.size() + (value ? value->size() : 0) + 80);
    about.append_to(v.summary);
  }
  if (!value) {
    v.rule = rule_workload_type_missing;
    std::string& message = v.message;
    append(message, " in namespace \"", ns, "\" has no label ", key, "; allowed values here: ");
    append_joined(message, allowed.view(), " or ");
    message += '.';
    const std::string_view owner_kind = owner_kind_for(c, object);
    if (workload_signals_conflict(c.roles, ns, owner_kind, site.metadata)) {
      const inference_result inferred = infer_workload_type(c.roles, ns, owner_kind, site.metadata);
      message += " mlnetpol did not infer one because its signals disagree:";
      for (std::size_t i = 0; i < inferred.signals.size(); ++i) {
        append(message, i == 0 ? " " : ", ", inferred.signals[i].text, " says ",
               inferred.signals[i].value);
      }
      message += ".";
    }
    message += " Fix: add ";
    // For a pod, owner_kind is already its controller's kind.
    const bool pod = c.kind == kind_class::pod && site.template_path.empty();
    append_fix_location(message, c, site, allowed, pod ? owner_kind : pod_owner_kind(object, site),
                        "to");
    if (summarize) {
      append(v.summary, ": no label ", key, " (allowed here: ");
      append_joined(v.summary, allowed.view(), " or ");
      v.summary += ')';
    }
  } else {
    v.rule = rule_workload_type_not_allowed;
    std::string& message = v.message;
    append(message, " in namespace \"", ns, "\" has label ", key, "=", *value,
           ", which is not allowed here; allowed values: ");
    append_joined(message, allowed.view(), " or ");
    message += ". Fix: set ";
    append_fix_location(message, c, site, allowed, pod_owner_kind(object, site), "on");
    if (summarize) {
      append(v.summary, ": ", key, "=", *value, " not allowed in namespace ", ns, " (allowed: ");
      append_joined(v.summary, allowed.view(), " or ");
      v.summary += ')';
    }
  }
}

// Whether this namespace refuses hostNetwork: deny_host_network and one of its roles listed.
bool host_network_denied(const context& c) {
  if (!c.cfg.deny_host_network) return false;
  return std::any_of(c.cfg.deny_host_network_roles.begin(), c.cfg.deny_host_network_roles.end(),
                     [&](const std::string& role) { return has_role(c.roles, role); });
}

void check_host_network(const context& c, const rapidjson::Value& object, const pod_site& site,
                        violation_list& out) {
  const rapidjson::Value* host_network = json_member(site.spec, "hostNetwork");
  if (host_network == nullptr || !host_network->IsBool() || !host_network->GetBool()) return;
  const std::string subject = describe_object(c.request, &object, site.template_path);
  const std::string_view ns = c.namespace_name;
  const std::string field = site.template_path.empty()
                                ? std::string("spec.hostNetwork")
                                : cat(site.template_path, ".spec.hostNetwork");
  out.push_back({rule_host_network,
                 cat(subject, " in namespace \"", ns, "\" sets ", field,
                     ": true, which is denied in secured namespaces: a pod on the host network "
                     "bypasses every network policy. Fix: remove ",
                     field,
                     " (or run the workload outside the secured namespaces; administrators: "
                     "deny_host_network_roles)"),
                 cat(subject, ": hostNetwork is not allowed in secured namespace ", ns,
                     " (bypasses network policies)")});
}

// Labels belong to the pod, where the rules above judge them; a status write (which the API
// server lets change metadata too) must not change the workload label at all.
void check_label_via_status(const context& c, violation_list& out) {
  const request_facts& r = c.request;
  const std::string& key = c.cfg.label_key;
  const auto before = map_value(json_member(r.old_object, "metadata"), "labels", key);
  const auto after = map_value(json_member(r.object, "metadata"), "labels", key);
  if (before == after) return;
  const std::string subject = describe_object(r, r.object);
  const std::string change = cat(before ? *before : "(none)", " -> ", after ? *after : "(none)");
  out.push_back(
      {rule_label_via_status,
       cat(subject, " in namespace \"", c.namespace_name, "\": changing label ", key, " (", change,
           ") through the pods/status sub-resource is denied: the label decides which network "
           "policies select the pod. Fix: leave metadata.labels out of status writes (change the "
           "pod's labels on the pod itself, where mlnetpol checks them)"),
       cat(subject, ": label ", key, " cannot change through pods/status")});
}

bool label_ok(const context& c, const pod_site& site) {
  const auto value = map_value(site.metadata, "labels", c.cfg.label_key);
  return value && allowed_workload_type_set(c.roles).contains(*value);
}

void check_managed_policy(context& c, violation_list& out) {
  const request_facts& r = c.request;
  const bool update = r.operation == "UPDATE";
  if (!update && r.operation != "DELETE") return;
  auto managed = [](const rapidjson::Value* o) {
    return map_value(json_member(o, "metadata"), "labels", managed_by_label) == managed_by_value;
  };
  if (!managed(r.old_object) && !(update && managed(r.object))) return;
  if (is_privileged(c.cfg, r.username, r.groups)) return;
  const rapidjson::Value* shown = r.old_object != nullptr ? r.old_object : r.object;
  const std::string subject = describe_object(r, shown);
  const std::string verb = update ? "update" : "delete";
  std::vector<std::string_view> groups(c.cfg.admin_groups.begin(), c.cfg.admin_groups.end());
  const std::string where =
      r.namespace_name.empty() ? "" : " in namespace \"" + str(r.namespace_name) + "\"";
  out.push_back({rule_managed_policy,
                 subject + where + " is managed by mlnetpol (label " + str(managed_by_label) + "=" +
                     str(managed_by_value) + "); only mlnetpol's service account " +
                     c.cfg.service_account +
                     (groups.empty() ? "" : " or the admin_groups (" + join(groups, ", ") + ")") +
                     " may " + verb +
                     " it, and mlnetpol re-applies it from its configuration. Fix: change "
                     "the mlnetpol configuration (its --config file, e.g. the ConfigMap) instead",
                 subject + " is managed by mlnetpol; change the mlnetpol configuration instead"});
}

violation_list find_violations(context& c) {
  const request_facts& r = c.request;
  violation_list out;
  if (c.kind == kind_class::network_policy) {
    check_managed_policy(c, out);
    return out;
  }
  if (r.object == nullptr || !r.object->IsObject()) return out;
  if (is_pod_status(c)) {
    if (r.operation == "UPDATE") check_label_via_status(c, out);
    return out;
  }
  const bool ml = c.roles.ml();
  const bool host_network = host_network_denied(c);
  if (!ml && !host_network) return out;
  const bool create = r.operation == "CREATE";
  const bool update = r.operation == "UPDATE";
  auto check = [&](const pod_site& site) {
    if (ml) check_site(c, *r.object, site, out);
    if (host_network) check_host_network(c, *r.object, site, out);
  };
  if (c.kind == kind_class::workload && (create || update)) {
    for (const auto& site : written_sites(r)) check(site);
  } else if (c.kind == kind_class::pod && create) {
    // The pod's one site, as pod_sites has it but without its path: a check writes no patch.
    check(pod_own_site(*r.object));
  } else if (ml && c.kind == kind_class::pod && update && r.old_object != nullptr) {
    // Running pods that predate mlnetpol stay updatable; only taking a valid label away is denied
    // (hostNetwork cannot change on a pod).
    const auto old_sites = pod_sites(r.group, r.kind, *r.old_object);
    const auto new_sites = pod_sites(r.group, r.kind, *r.object);
    if (!old_sites.empty() && !new_sites.empty() && label_ok(c, old_sites.front()) &&
        !label_ok(c, new_sites.front())) {
      check_site(c, *r.object, new_sites.front(), out);
    }
  }
  return out;
}

void finish(decision& d) {
  d.warnings = fit_warnings(d.warnings);
}

// A refusal of what only mlnetpol may change: enforced whatever the namespace's mode.
void refuse_in_every_mode(decision& d, std::string_view rule, std::string message,
                          std::string summary) {
  d.mode = enforcement_mode::enforce;
  d.allowed = false;
  d.code = 403;
  d.result = outcome::denied;
  d.violations.push_back({rule, message, std::move(summary)});
  d.message = std::move(message);
}

// mlnetpol's namespace labels are mlnetpol's: a Namespace write (its status and finalize
// sub-resources too, which can change labels as well) that adds, changes or removes an
// mlnetpol.io label is refused unless it comes from the service account or an admin group, in
// every mode and for exempt users alike: the mode is what the enforcement label itself chooses.
// Returns true when it refused the request.
bool refuse_foreign_label_changes(context& c) {
  const request_facts& r = c.request;
  if (!c.cfg.enabled || c.kind != kind_class::namespace_kind) return false;
  const bool update = r.operation == "UPDATE";
  if (!update && r.operation != "CREATE") return false;
  if (is_privileged(c.cfg, r.username, r.groups)) return false;
  c.roles = roles_of(c.cfg, c.namespace_name);
  std::vector<label_change> changes =
      foreign_label_changes(update ? r.old_object : nullptr, r.object, c.roles);
  if (auto annotation = policy_set_annotation_change(update ? r.old_object : nullptr, r.object)) {
    changes.push_back(std::move(*annotation));
  }
  if (changes.empty()) return false;
  std::string what;
  for (const auto& change : changes) {
    append(c.result.detail, c.result.detail.empty() ? "" : ",", change.key);
    const std::string_view was = change.before ? std::string_view(*change.before) : "";
    const std::string_view is = change.after ? std::string_view(*change.after) : "";
    append(what, what.empty() ? "" : ", ", change.annotation ? "annotation " : "", change.key,
           !change.before  ? cat(" (added: ", is, ")")
           : !change.after ? cat(" (removed: was ", was, ")")
                           : cat(" (changed: ", was, " -> ", is, ")"));
  }
  std::vector<std::string_view> groups(c.cfg.admin_groups.begin(), c.cfg.admin_groups.end());
  std::string message =
      cat("namespace \"", c.namespace_name, "\": ", r.username, " may not change label ", what,
          ": the ", owned_label_prefix, " labels and the ", policy_set_annotation,
          " annotation are mlnetpol's (the enforcement override is an administrator's tool); only "
          "mlnetpol's service account ",
          c.cfg.service_account,
          groups.empty() ? std::string() : cat(" or the admin_groups (", join(groups, ", "), ")"),
          " may change them. Fix: leave the ", owned_label_prefix,
          " labels as they are, or ask a cluster administrator");
  refuse_in_every_mode(c.result, rule_namespace_label, std::move(message),
                       cat("namespace ", c.namespace_name, ": ", what, " is mlnetpol's"));
  return true;
}

// mlnetpol's scheduling gate is mlnetpol's: a Pod UPDATE that removes it, or adds, changes or
// removes its label, is refused unless it comes from the service account or an admin group, in
// every mode and for exempt users alike (the API server lets anyone who may update a pod remove a
// gate; the pod would start before its namespace's policies exist). Returns true when refused.
bool refuse_gate_changes(context& c) {
  const request_facts& r = c.request;
  if (!c.cfg.enabled || c.kind != kind_class::pod || !r.sub_resource.empty() ||
      r.operation != "UPDATE" || r.old_object == nullptr) {
    return false;
  }
  const std::vector<std::string> changes = gate_changes(r.old_object, r.object);
  if (changes.empty() || is_privileged(c.cfg, r.username, r.groups)) return false;
  std::string what;
  for (const auto& change : changes) append(what, what.empty() ? "" : " and ", change);
  const std::string subject = describe_object(r, r.old_object);
  std::string message =
      cat(subject, " in namespace \"", c.namespace_name, "\": ", r.username, " ", what,
          ", which only mlnetpol's service account ", c.cfg.service_account,
          " or an admin group may do: the gate holds the pod until the namespace's network "
          "policies are stored. Fix: wait for mlnetpol to release it (kubectl describe pod shows "
          "why it is held), or ask a cluster administrator");
  c.result.detail = what;
  refuse_in_every_mode(c.result, rule_scheduling_gate, std::move(message),
                       cat(subject, ": the scheduling gate is mlnetpol's"));
  return true;
}

}  // namespace

enforcement_mode effective_mode(const config& cfg,
                                const std::map<std::string, std::string>* namespace_labels,
                                std::string_view namespace_name, std::string* problem) {
  if (namespace_labels == nullptr) return cfg.enforcement;
  static const std::string key(enforcement_label);  // the map's find takes a std::string
  const auto it = namespace_labels->find(key);
  if (it == namespace_labels->end()) return cfg.enforcement;
  return mode_for_label(cfg, it->second, namespace_name, problem);
}

decision mutate(const request_facts& request, const config& cfg) {
  context c{request, cfg, classify(request), {}, {}, {}};
  c.namespace_name = namespace_of(request, c.kind);
  c.result.mode = cfg.enforcement;
  if (settle_early(c)) return std::move(c.result);
  c.roles = roles_of(cfg, c.namespace_name);
  planned_list planned = plan(c);
  const bool gated = plan_gate(c, planned);
  if (!planned.empty() || gated) {
    if (c.result.mode == enforcement_mode::audit) {
      std::string audit_value;
      for (const auto& label : planned) {
        if (label.note.empty()) continue;
        c.result.warnings.push_back(label.note);
        audit_value += (audit_value.empty() ? "" : "; ") + label.audit_value;
      }
      c.result.audit_annotations.emplace_back(str(would_add_annotation), audit_value);
      c.result.result = outcome::audited;
    } else {
      c.result.additions.reserve(planned.size());
      for (auto& label : planned) c.result.additions.push_back(std::move(label.entry));
      c.result.result = outcome::patched;
    }
  }
  finish(c.result);
  return std::move(c.result);
}

decision validate(const request_facts& request, const config& cfg) {
  context c{request, cfg, classify(request), {}, {}, {}};
  c.namespace_name = namespace_of(request, c.kind);
  c.result.mode = cfg.enforcement;
  if (refuse_foreign_label_changes(c) || refuse_gate_changes(c)) {
    finish(c.result);
    return std::move(c.result);
  }
  if (settle_early(c)) return std::move(c.result);
  c.roles = roles_of(cfg, c.namespace_name);
  decision& d = c.result;
  d.violations = find_violations(c);
  if (!d.violations.empty()) {
    switch (d.mode) {
      case enforcement_mode::enforce: {
        d.allowed = false;
        d.code = 403;
        d.result = outcome::denied;
        for (const auto& v : d.violations)
          append(d.message, d.message.empty() ? "" : "; ", v.message);
        break;
      }
      case enforcement_mode::warn:
        d.result = outcome::warned;
        for (const auto& v : d.violations) d.warnings.push_back(v.summary);
        break;
      case enforcement_mode::audit: {
        d.result = outcome::audited;
        std::string all;
        for (const auto& v : d.violations) {
          d.warnings.push_back("would deny: " + v.summary);
          all += (all.empty() ? "" : "; ") + v.message;
        }
        d.audit_annotations.emplace_back(str(would_deny_annotation), all);
        break;
      }
    }
  }
  // After the label rules: the guardrails apply a mode of their own.
  if (c.kind == kind_class::network_policy) {
    apply_tenant_policy_guardrails(request, cfg, c.roles.secured, d);
  }
  finish(d);
  return std::move(d);
}

}  // namespace mlnetpol::policy
