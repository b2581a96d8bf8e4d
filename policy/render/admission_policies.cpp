#include "policy/render/admission_policies.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <string>

#include "common/text.hpp"
#include "policy/inference.hpp"
#include "policy/kinds.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"
#include "policy/policy_set.hpp"
#include "policy/render/object.hpp"
#include "policy/template_fields.hpp"
#include "policy/text.hpp"

namespace mlnetpol::policy {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view namespace_name_label = "kubernetes.io/metadata.name";
constexpr std::string_view policy_prefix = "mlnetpol-";
constexpr std::array<enforcement_mode, 3> modes{enforcement_mode::enforce, enforcement_mode::warn,
                                                enforcement_mode::audit};

void str(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void key(json_writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void str_array(json_writer& w, const std::vector<std::string>& items) {
  w.StartArray();
  for (const auto& item : items) str(w, item);
  w.EndArray();
}

// --- CEL text ---

// A CEL string literal: single-quoted, backslash and quote escaped (a label key from the
// configuration must not end the literal).
std::string cel_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

template <class Range>
std::string cel_list(const Range& items) {
  std::string out = "[";
  for (const auto& item : items) append(out, out.size() == 1 ? "" : ", ", cel_quote(item));
  return out + "]";
}

// "root.a.b" for a path.
std::string cel_path(std::string_view root, std::span<const std::string_view> path) {
  std::string out(root);
  for (const auto step : path) append(out, ".", step);
  return out;
}

// has(root.a) && has(root.a.b) ...: has() of a deeper field errors when a step is missing.
std::string cel_has_path(std::string_view root, std::span<const std::string_view> path) {
  std::string out;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    append(out, i == 1 ? "" : " && ", "has(", cel_path(root, path.first(i)), ")");
  }
  return out;
}

// Whether an UPDATE writes the template now (old: the same template before): one of
// written_template_fields differs (policy/template_fields.hpp; the engine's written_sites compares
// the same). maps_only: the expressions are the object holding the maps (a TrainJob's spec).
std::string template_written(std::string_view old, std::string_view now, bool maps_only) {
  std::string out;
  for (const template_field& f : written_template_fields) {
    if (maps_only && f.parent != "metadata") continue;
    std::vector<std::string_view> path;
    if (!maps_only) path.push_back(f.parent);
    path.push_back(f.name);
    const std::string has_old = cel_has_path(old, path);
    const std::string has_now = cel_has_path(now, path);
    const bool one = path.size() == 1;
    append(out, out.empty() ? "" : " || ", one ? "" : "(", has_old, one ? "" : ")",
           " != ", one ? "" : "(", has_now, one ? "" : ")", " || (", has_now, " && ",
           cel_path(old, path), " != ", cel_path(now, path), ")");
  }
  return out;
}

// The pod templates a request writes, as the engine's written_sites sees them: the Pod itself on
// CREATE; every template of a workload on CREATE, on UPDATE only those template_written (so an
// update of a workload that predates mlnetpol that leaves its templates' labels, annotations and
// hostNetwork alone is never refused).
std::string templates_expression() {
  // Kinds sharing a template path share one branch.
  std::vector<std::pair<std::vector<std::string>, std::string>> branches;
  for (const workload_kind& w : workload_kinds()) {
    const std::span<const std::string_view> path(w.path.data(), w.path_size);
    const std::string now = cel_path("object", path);
    const std::string old = cel_path("oldObject", path);
    std::string e;
    if (w.labels_at_path) {
      // The object holding the maps stands as a template's metadata (no pod spec: hostNetwork
      // never applies).
      e = cat("(", cel_has_path("object", path), " ? [", now, "] : []).filter(t, oldObject == null",
              " || !(", cel_has_path("oldObject", path), ") || ", template_written(old, "t", true),
              ").map(t, {'metadata': t})");
    } else if (!w.replica_specs) {
      e = cat("(", cel_has_path("object", path), " ? [", now, "] : []).filter(t, oldObject == null",
              " || !(", cel_has_path("oldObject", path), ") || ", template_written(old, "t", false),
              ")");
    } else {
      e = cat(cel_has_path("object", path), " ? ", now, ".filter(k, has(", now,
              "[k].template) && (oldObject == null || !(", cel_has_path("oldObject", path),
              ") || !(k in ", old, ") || !has(", old, "[k].template) || ",
              template_written(cat(old, "[k].template"), cat(now, "[k].template"), false),
              ")).map(k, ", now, "[k].template) : []");
    }
    auto same = std::find_if(branches.begin(), branches.end(),
                             [&](const auto& b) { return b.second == e; });
    if (same == branches.end()) {
      branches.push_back({{std::string(w.plural)}, std::move(e)});
    } else {
      same->first.emplace_back(w.plural);
    }
  }
  std::string out =
      "request.resource.resource == 'pods' ? (request.operation == 'CREATE' ? "
      "[object] : []) : ";
  for (const auto& [plurals, e] : branches) {
    append(out, "request.resource.resource in ", cel_list(plurals), " ? (", e, ") : ");
  }
  return out + "[]";
}

// Where a kind's templates sit, as the engine's messages name them (pod_site.template_path):
// "spec.template", "spec.pytorchReplicaSpecs.*.template", "spec.labels".
std::string template_path_of(const workload_kind& w) {
  std::string path = cel_path("", {w.path.data(), w.path_size}).substr(1);
  if (w.replica_specs) path += ".*.template";
  if (w.labels_at_path) path += ".labels";
  return path;
}

// Where their labels map sits (policy::labels_path): "spec.template.metadata.labels",
// "spec.labels".
std::string labels_path_of(const workload_kind& w) {
  return w.labels_at_path ? template_path_of(w) : template_path_of(w) + ".metadata.labels";
}

// The resource's path for messages, of per kind; kinds sharing a path share one branch.
std::string path_expression(std::string (*of)(const workload_kind&)) {
  std::vector<std::pair<std::vector<std::string>, std::string>> branches;
  for (const workload_kind& w : workload_kinds()) {
    std::string path = of(w);
    auto same = std::find_if(branches.begin(), branches.end(),
                             [&](const auto& b) { return b.second == path; });
    if (same == branches.end()) {
      branches.push_back({{std::string(w.plural)}, std::move(path)});
    } else {
      same->first.emplace_back(w.plural);
    }
  }
  std::string out;
  for (const auto& [plurals, path] : branches) {
    append(out, "request.resource.resource in ", cel_list(plurals), " ? ", cel_quote(path), " : ");
  }
  return out + "''";
}

// `pod "web"` / `Deployment "web"` / `pod with generateName "train-"`, as the webhook names them.
constexpr std::string_view subject_expression =
    "(request.resource.resource == 'pods' ? 'pod' : request.kind.kind) + "
    "(has(object.metadata.name) && object.metadata.name != '' ? ' \"' + object.metadata.name + "
    "'\"' : has(object.metadata.generateName) ? ' with generateName \"' + "
    "object.metadata.generateName + '\"' : ' (unnamed)') + (request.resource.resource == 'pods' ? "
    "'' : ' (' + variables.template_path + ')') + ' in namespace \"' + request.namespace + '\"'";

// --- objects ---

struct variable {
  std::string name;
  std::string expression;
};
struct validation {
  std::string expression;
  std::string message;             // when message_expression fails
  std::string message_expression;  // "" for none
};

struct policy_spec {
  std::string name;
  std::vector<std::string> operations;  // of the resource rules
  bool workloads = true;                // the workload kinds too, not only pods
  std::vector<variable> variables;
  std::vector<validation> validations;
  // The binding action per mode (enforce, warn, audit).
  std::function<std::string_view(enforcement_mode)> action;
  std::vector<std::string> namespaces;
};

std::string_view action_of(enforcement_mode mode) {
  switch (mode) {
    case enforcement_mode::enforce:
      return "Deny";
    case enforcement_mode::warn:
      return "Warn";
    case enforcement_mode::audit:
      return "Audit";
  }
  return "Deny";
}

void resource_rule(json_writer& w, std::string_view group, const std::vector<std::string>& plurals,
                   const std::vector<std::string>& operations) {
  w.StartObject();
  key(w, "apiGroups");
  str_array(w, {std::string(group)});
  key(w, "apiVersions");
  str_array(w, {"*"});
  key(w, "operations");
  str_array(w, operations);
  key(w, "resources");
  str_array(w, plurals);
  key(w, "scope");  // the API server's default, spelled out so a live object compares equal
  str(w, "*");
  w.EndObject();
}

// Exempt users and groups as the engine's settle_early exempts them.
void match_conditions(json_writer& w, const config& cfg) {
  if (cfg.exempt_users.empty() && cfg.exempt_groups.empty()) return;
  key(w, "matchConditions");
  w.StartArray();
  if (!cfg.exempt_users.empty()) {
    w.StartObject();
    key(w, "name");
    str(w, "not-exempt-user");
    key(w, "expression");
    str(w, cat("!(request.userInfo.username in ", cel_list(cfg.exempt_users), ")"));
    w.EndObject();
  }
  if (!cfg.exempt_groups.empty()) {
    w.StartObject();
    key(w, "name");
    str(w, "not-exempt-group");
    key(w, "expression");
    str(w, cat("!has(request.userInfo.groups) || !request.userInfo.groups.exists(g, g in ",
               cel_list(cfg.exempt_groups), ")"));
    w.EndObject();
  }
  w.EndArray();
}

void write_policy_spec(json_writer& w, const config& cfg, const policy_spec& p) {
  w.StartObject();
  key(w, "failurePolicy");
  str(w, "Fail");
  key(w, "matchConstraints");
  w.StartObject();
  key(w, "matchPolicy");
  str(w, "Equivalent");
  key(w, "resourceRules");
  w.StartArray();
  resource_rule(w, "", {"pods"}, p.operations);
  if (p.workloads) {
    // One rule per group, in the order the kinds are listed.
    std::vector<std::pair<std::string_view, std::vector<std::string>>> groups;
    for (const workload_kind& k : workload_kinds()) {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == k.group; });
      if (it == groups.end()) it = groups.insert(groups.end(), {k.group, {}});
      it->second.emplace_back(k.plural);
    }
    for (const auto& [group, plurals] : groups) resource_rule(w, group, plurals, p.operations);
  }
  w.EndArray();
  w.EndObject();
  match_conditions(w, cfg);
  if (!p.variables.empty()) {
    key(w, "variables");
    w.StartArray();
    for (const auto& v : p.variables) {
      w.StartObject();
      key(w, "name");
      str(w, v.name);
      key(w, "expression");
      str(w, v.expression);
      w.EndObject();
    }
    w.EndArray();
  }
  key(w, "validations");
  w.StartArray();
  for (const auto& v : p.validations) {
    w.StartObject();
    key(w, "expression");
    str(w, v.expression);
    key(w, "message");
    str(w, v.message);
    if (!v.message_expression.empty()) {
      key(w, "messageExpression");
      str(w, v.message_expression);
    }
    // 403 as the webhook answers, not 422 (the object is valid; the namespace refuses it).
    key(w, "reason");
    str(w, "Forbidden");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void write_binding_spec(json_writer& w, const config& cfg, const policy_spec& p,
                        enforcement_mode mode) {
  w.StartObject();
  key(w, "policyName");
  str(w, p.name);
  key(w, "validationActions");
  str_array(w, {std::string(p.action(mode))});
  key(w, "matchResources");
  w.StartObject();
  key(w, "matchPolicy");
  str(w, "Equivalent");
  key(w, "namespaceSelector");
  w.StartObject();
  key(w, "matchExpressions");
  w.StartArray();
  w.StartObject();
  key(w, "key");
  str(w, namespace_name_label);
  key(w, "operator");
  str(w, "In");
  key(w, "values");
  str_array(w, p.namespaces);
  w.EndObject();
  // The configured mode holds unless the label names another valid mode (an invalid value keeps
  // it, as the engine's effective_mode does); another mode only where the label names it.
  std::vector<std::string> values;
  for (const auto m : modes) {
    if (mode == cfg.enforcement ? m != mode : m == mode) values.emplace_back(to_string(m));
  }
  w.StartObject();
  key(w, "key");
  str(w, enforcement_label);
  key(w, "operator");
  str(w, mode == cfg.enforcement ? "NotIn" : "In");
  key(w, "values");
  str_array(w, values);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  w.EndObject();
}

std::vector<variable> common_variables() {
  return {{"template_path", path_expression(template_path_of)},
          {"templates", templates_expression()}};
}

// "training", or "training (or inference)": the value a fix suggests, as the webhook writes it.
std::string fix_value(const std::vector<std::string_view>& allowed) {
  std::string out(allowed.front());
  for (std::size_t i = 1; i < allowed.size(); ++i) {
    append(out, i == 1 ? " (or " : ", ", allowed[i]);
  }
  return allowed.size() > 1 ? out + ")" : out;
}

// workload-type missing or not allowed, for the namespaces whose allowed values are `allowed`.
policy_spec workload_type_policy(const config& cfg, const std::vector<std::string_view>& allowed) {
  policy_spec p;
  p.name = cat(policy_prefix, "workload-type-", text::join(allowed, "-"));
  p.operations = {"CREATE", "UPDATE"};
  p.variables = common_variables();
  p.variables.push_back({"labels_path", path_expression(labels_path_of)});
  p.action = action_of;
  const std::string label_key = cel_quote(cfg.label_key);
  const std::string allowed_list = cel_list(allowed);
  auto labelled = [&](std::string_view t) {
    return cat("has(", t, ".metadata) && has(", t, ".metadata.labels) && ", label_key, " in ", t,
               ".metadata.labels");
  };
  const std::string values = text::join(allowed, " or ");
  const std::string fix = fix_value(allowed);
  // The fix's location: on the pod itself ("to" or "on" it), or in the template.
  auto location = [&](std::string_view preposition) {
    return cat(
        "(request.resource.resource == 'pods' ? ",
        cel_quote(cat("metadata.labels.", cfg.label_key, ": ", fix, " ", preposition, " the pod")),
        " : variables.labels_path + ", cel_quote(cat(".", cfg.label_key, ": ", fix)), ")");
  };
  p.validations.push_back(
      {cat("variables.templates.all(t, ", labelled("t"), ")"),
       cat("a pod or pod template has no label ", cfg.label_key, "; allowed values here: ", values),
       cat(subject_expression, " + ",
           cel_quote(cat(" has no label ", cfg.label_key, "; allowed values here: ", values,
                         ". Fix: add ")),
           " + ", location("to"))});
  p.validations.push_back(
      {cat("variables.templates.all(t, !(", labelled("t"), ") || t.metadata.labels[", label_key,
           "] in ", allowed_list, ")"),
       cat("a pod or pod template has a label ", cfg.label_key,
           " value not allowed here; allowed values: ", values),
       cat(subject_expression, " + ", cel_quote(cat(" has label ", cfg.label_key, "=")),
           " + variables.templates.filter(t, ", labelled("t"), " && !(t.metadata.labels[",
           label_key, "] in ", allowed_list, ")).map(t, t.metadata.labels[", label_key, "])[0] + ",
           cel_quote(cat(", which is not allowed here; allowed values: ", values, ". Fix: set ")),
           " + ", location("on"))});
  // A pod update may not take a valid label away (the webhook's rule for pods that predate it).
  auto valid = [&](std::string_view o) {
    return cat("(has(", o, ".metadata.labels) && ", label_key, " in ", o, ".metadata.labels && ", o,
               ".metadata.labels[", label_key, "] in ", allowed_list, ")");
  };
  p.validations.push_back(
      {cat("request.resource.resource != 'pods' || request.operation != 'UPDATE' || !",
           valid("oldObject"), " || ", valid("object")),
       cat("a pod update may not remove or change a valid label ", cfg.label_key,
           "; allowed values here: ", values),
       cat("'pod \"' + object.metadata.name + '\" in namespace \"' + request.namespace + '\"' + ",
           cel_quote(cat(": an update may not remove or change its valid label ", cfg.label_key,
                         "; allowed values here: ", values, ". Fix: keep metadata.labels.",
                         cfg.label_key, ": ", fix, " on the pod")))});
  return p;
}

// While every replica is down nothing gates a new pod (issue 23): a Pod CREATE in a secured
// namespace whose set is not recorded as in place, and that carries no gate of mlnetpol's, would
// start before its namespace's network policies exist. Refused in every mode that applies
// policies (enforce and warn, as the gate holds pods in both); audit only records it.
policy_spec policy_set_policy() {
  policy_spec p;
  p.name = cat(policy_prefix, "policy-set");
  p.operations = {"CREATE"};
  p.workloads = false;
  p.action = [](enforcement_mode mode) -> std::string_view {
    return mode == enforcement_mode::audit ? "Audit" : "Deny";
  };
  const std::string annotation = cel_quote(policy_set_annotation);
  p.validations.push_back(
      {cat("(has(namespaceObject.metadata.annotations) && ", annotation,
           " in namespaceObject.metadata.annotations) || (has(object.spec.schedulingGates) && "
           "object.spec.schedulingGates.exists(g, g.name == ",
           cel_quote(policy_set_gate), "))"),
       "the namespace's network policies are not in place yet and mlnetpol is not running to gate "
       "the pod; retry when it is",
       cat("'pod ' + (has(object.metadata.name) && object.metadata.name != '' ? '\"' + "
           "object.metadata.name + '\"' : 'with generateName \"' + "
           "(has(object.metadata.generateName) ? object.metadata.generateName : '') + '\"') + ' in "
           "namespace \"' + request.namespace + '\": the namespace\\'s network policies are not in "
           "place yet (no annotation ",
           policy_set_annotation,
           ") and mlnetpol is not running to gate the pod (no scheduling gate ", policy_set_gate,
           "); retry when it is'")});
  return p;
}

policy_spec host_network_policy() {
  policy_spec p;
  p.name = cat(policy_prefix, "host-network");
  p.operations = {"CREATE", "UPDATE"};
  p.variables = common_variables();
  p.action = action_of;
  const std::string field =
      "(request.resource.resource == 'pods' ? 'spec.hostNetwork' : variables.template_path + "
      "'.spec.hostNetwork')";
  p.validations.push_back(
      {"variables.templates.all(t, !has(t.spec) || !has(t.spec.hostNetwork) || "
       "t.spec.hostNetwork != true)",
       "hostNetwork: true is denied in secured namespaces: a pod on the host network bypasses "
       "every network policy",
       cat(subject_expression, " + ' sets ' + ", field,
           " + ': true, which is denied in secured namespaces: a pod on the host network bypasses "
           "every network policy. Fix: remove ' + ",
           field,
           " + ' (or run the workload outside the secured namespaces; administrators: "
           "deny_host_network_roles)'")});
  return p;
}

}  // namespace

std::vector<rendered_object> render_admission_policies(const config& cfg,
                                                       std::string_view api_version) {
  std::vector<rendered_object> out;
  if (!cfg.enabled) return out;
  const namespace_index index(cfg);
  auto exempt = [&](const std::string& ns) {
    return std::find(cfg.exempt_namespaces.begin(), cfg.exempt_namespaces.end(), ns) !=
           cfg.exempt_namespaces.end();
  };

  // ML namespaces grouped by their allowed values (training, inference, both), in first-seen order.
  std::vector<policy_spec> policies;
  std::map<std::vector<std::string_view>, std::size_t> by_allowed;
  policy_spec host_network = host_network_policy();
  for (const auto& ns : index.policy_namespaces()) {
    if (exempt(ns)) continue;
    const namespace_roles roles = index.roles(ns);
    if (roles.ml()) {
      const std::vector<std::string_view> allowed = allowed_workload_types(roles);
      auto [it, added] = by_allowed.try_emplace(allowed, policies.size());
      if (added) policies.push_back(workload_type_policy(cfg, allowed));
      policies[it->second].namespaces.push_back(ns);
    }
    const bool denied =
        cfg.deny_host_network &&
        std::any_of(cfg.deny_host_network_roles.begin(), cfg.deny_host_network_roles.end(),
                    [&](const std::string& role) { return has_role(roles, role); });
    if (denied) host_network.namespaces.push_back(ns);
  }
  if (!host_network.namespaces.empty()) policies.push_back(std::move(host_network));
  policy_spec policy_set = policy_set_policy();
  for (const auto& ns : index.secured()) {
    if (!exempt(ns)) policy_set.namespaces.push_back(ns);
  }
  if (!policy_set.namespaces.empty()) policies.push_back(std::move(policy_set));

  std::vector<rendered_object> bindings;
  for (const auto& p : policies) {
    rapidjson::StringBuffer spec;
    {
      json_writer w(spec);
      write_policy_spec(w, cfg, p);
    }
    out.push_back(
        render::make_object(api_version, admission_policy_kind, "", p.name, spec.GetString()));
    for (const auto mode : modes) {
      rapidjson::StringBuffer binding;
      {
        json_writer w(binding);
        write_binding_spec(w, cfg, p, mode);
      }
      bindings.push_back(render::make_object(api_version, admission_binding_kind, "",
                                             cat(p.name, "-", to_string(mode)),
                                             binding.GetString()));
    }
  }
  out.insert(out.end(), std::make_move_iterator(bindings.begin()),
             std::make_move_iterator(bindings.end()));
  return out;
}

}  // namespace mlnetpol::policy
