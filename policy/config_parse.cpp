#include "policy/config_parse.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>

#include "common/edit_distance.hpp"
#include "common/json.hpp"
#include "policy/fqdn.hpp"
#include "policy/labels.hpp"
#include "policy/name_rules.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::policy {
namespace {

using json::json_member;

using errors_t = std::vector<config_error>;
// Returns what is wrong with a string value, or nullopt when it is fine.
using check_fn = std::optional<std::string> (*)(std::string_view);

std::string sv(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

std::string type_of(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a bool";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string (\"" + sv(v) + "\")";
  if (v.IsArray()) return "a list";
  return "a map";
}

void wrong_type(const rapidjson::Value& v, const std::string& path, std::string_view expected,
                errors_t& errors) {
  errors.push_back({path, "wrong type: expected " + std::string(expected) + ", got " + type_of(v)});
}

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// `listed_at`: where an earlier unknown key of the same map listed the valid keys ("": none yet;
// set to `path` when this message lists them), so many unknown keys do not repeat the whole list
// each (the messages stay linear in the input).
std::string unknown_key_message(std::string_view key, const std::vector<std::string>& valid,
                                const std::string& path, std::string& listed_at) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  // A suggestion only helps when it is close; otherwise list what is valid here.
  const std::size_t close = std::max<std::size_t>(3, key.size() / 2);
  edit_distance distance;  // its rows are reused for every candidate
  for (const auto& candidate : valid) {
    const std::size_t d = distance(key, candidate, {.ignore_case = true, .limit = close});
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  std::string message = "unknown key";
  if (!best.empty() && best_distance <= close) {
    return message + "; did you mean \"" + best + "\"?";
  }
  if (!listed_at.empty())
    return message + "; the valid keys here are listed at \"" + listed_at + "\"";
  listed_at = path;
  message += "; valid keys here:";
  for (const auto& candidate : valid) {
    message += ' ';
    message += candidate;
  }
  return message;
}

// Reports every member of a map not in `valid`.
void check_keys(const rapidjson::Value& map, const std::vector<std::string>& valid,
                const std::string& path, errors_t& errors) {
  std::string listed_at;
  for (const auto& member : map.GetObject()) {
    const std::string key = sv(member.name);
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      std::string at = child(path, key);
      std::string message = unknown_key_message(key, valid, at, listed_at);
      errors.push_back({std::move(at), std::move(message)});
    }
  }
}

std::optional<std::string> parse_string(const rapidjson::Value& v, const std::string& path,
                                        check_fn check, errors_t& errors) {
  if (!v.IsString()) {
    wrong_type(v, path, "a string", errors);
    return std::nullopt;
  }
  std::string s = sv(v);
  if (check != nullptr) {
    if (auto problem = check(s)) {
      errors.push_back({path, *problem});
      return std::nullopt;
    }
  }
  return s;
}

// --- per-type codecs: parse from JSON, name the type, emit as YAML ---
template <typename T>
struct codec;

template <>
struct codec<bool> {
  static std::string type_name() { return "bool"; }
  static std::optional<bool> parse(const rapidjson::Value& v, const std::string& path, check_fn,
                                   errors_t& errors) {
    if (!v.IsBool()) {
      wrong_type(v, path, "a bool (true or false)", errors);
      return std::nullopt;
    }
    return v.GetBool();
  }
  static std::string emit(bool b) { return b ? "true" : "false"; }
};

template <>
struct codec<std::string> {
  static std::string type_name() { return "string"; }
  static std::optional<std::string> parse(const rapidjson::Value& v, const std::string& path,
                                          check_fn check, errors_t& errors) {
    return parse_string(v, path, check, errors);
  }
  static std::string emit(const std::string& s) { return quote(s); }
};

template <>
struct codec<enforcement_mode> {
  static std::string type_name() { return "enforce | warn | audit"; }
  static std::optional<enforcement_mode> parse(const rapidjson::Value& v, const std::string& path,
                                               check_fn, errors_t& errors) {
    if (!v.IsString()) {
      wrong_type(v, path, "one of enforce, warn, audit", errors);
      return std::nullopt;
    }
    if (auto mode = parse_enforcement_mode(sv(v))) return mode;
    errors.push_back(
        {path, "invalid enforcement mode \"" + sv(v) + "\": expected one of enforce, warn, audit"});
    return std::nullopt;
  }
  static std::string emit(enforcement_mode m) { return std::string(to_string(m)); }
};

template <>
struct codec<std::uint16_t> {
  static std::optional<std::uint16_t> parse(const rapidjson::Value& v, const std::string& path,
                                            check_fn, errors_t& errors) {
    if (!v.IsInt64()) {
      wrong_type(v, path, "a port number (1-65535)", errors);
      return std::nullopt;
    }
    const std::int64_t port = v.GetInt64();
    if (!is_port(port)) {
      errors.push_back({path, "port " + std::to_string(port) + " out of range 1-65535"});
      return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
  }
  static std::string emit(std::uint16_t p) { return std::to_string(p); }
};

template <>
struct codec<k8s_service_ref> {
  static std::optional<k8s_service_ref> parse(const rapidjson::Value& v, const std::string& path,
                                              check_fn, errors_t& errors) {
    if (!v.IsObject()) {
      wrong_type(v, path, "a map {k8sService: {serviceName, namespace}}", errors);
      return std::nullopt;
    }
    const std::size_t before = errors.size();
    check_keys(v, {"k8sService"}, path, errors);
    const rapidjson::Value* service = json_member(&v, "k8sService");
    const std::string service_path = child(path, "k8sService");
    if (service == nullptr) {
      errors.push_back({service_path, "missing key (expected {serviceName, namespace})"});
      return std::nullopt;
    }
    if (!service->IsObject()) {
      wrong_type(*service, service_path, "a map {serviceName, namespace}", errors);
      return std::nullopt;
    }
    check_keys(*service, {"serviceName", "namespace"}, service_path, errors);
    k8s_service_ref ref;
    for (const auto& [key, out, check] :
         {std::tuple{"serviceName", &ref.service_name, check_fn{check_service}},
          std::tuple{"namespace", &ref.namespace_name, check_fn{check_namespace}}}) {
      const rapidjson::Value* field = json_member(service, key);
      if (field == nullptr) {
        errors.push_back({child(service_path, key), "missing key"});
      } else if (auto s = parse_string(*field, child(service_path, key), check, errors)) {
        *out = *s;
      }
    }
    if (errors.size() != before) return std::nullopt;
    return ref;
  }
  static std::string emit(const k8s_service_ref& r) {
    return "k8sService: {serviceName: " + quote(r.service_name) +
           ", namespace: " + quote(r.namespace_name) + "}";
  }
  static std::optional<std::string> check_service(std::string_view s) {
    if (is_dns1123_label(s)) return std::nullopt;
    return "\"" + std::string(s) + "\" is not a valid service name (DNS-1123 label)";
  }
  static std::optional<std::string> check_namespace(std::string_view s);
};

template <>
struct codec<pod_peer> {
  static std::optional<pod_peer> parse(const rapidjson::Value& v, const std::string& path, check_fn,
                                       errors_t& errors) {
    if (!v.IsObject()) {
      wrong_type(v, path, "a map {namespace, matchLabels}", errors);
      return std::nullopt;
    }
    const std::size_t before = errors.size();
    check_keys(v, {"namespace", "matchLabels"}, path, errors);
    pod_peer peer;
    const rapidjson::Value* ns = json_member(&v, "namespace");
    if (ns == nullptr) {
      errors.push_back({child(path, "namespace"), "missing key"});
    } else if (auto s = parse_string(*ns, child(path, "namespace"),
                                     codec<k8s_service_ref>::check_namespace, errors)) {
      peer.namespace_name = *s;
    }
    if (const rapidjson::Value* labels = json_member(&v, "matchLabels")) {
      const std::string labels_path = child(path, "matchLabels");
      if (!labels->IsObject()) {
        wrong_type(*labels, labels_path, "a map of label key to value", errors);
      } else {
        for (const auto& member : labels->GetObject()) {
          const std::string key = sv(member.name);
          const std::string entry_path = labels_path + "[\"" + key + "\"]";
          if (!is_qualified_name(key)) {
            errors.push_back({entry_path, "\"" + key + "\" is not a valid label key"});
          } else if (!member.value.IsString()) {
            wrong_type(member.value, entry_path, "a string label value", errors);
          } else if (!is_label_value(sv(member.value))) {
            errors.push_back(
                {entry_path, "\"" + sv(member.value) + "\" is not a valid label value"});
          } else {
            peer.match_labels[key] = sv(member.value);
          }
        }
      }
    }
    if (errors.size() != before) return std::nullopt;
    return peer;
  }
  static std::string emit(const pod_peer& p) {
    std::string out = "{namespace: " + quote(p.namespace_name) + ", matchLabels: {";
    bool first = true;
    for (const auto& [k, v] : p.match_labels) {
      if (!first) out += ", ";
      first = false;
      out += quote(k) + ": " + quote(v);
    }
    return out + "}}";
  }
};

template <typename T>
constexpr bool is_scalar_item = std::is_same_v<T, std::string> || std::is_same_v<T, std::uint16_t>;

template <typename T>
struct codec<std::vector<T>> {
  static std::string type_name() {
    if constexpr (std::is_same_v<T, std::string>) return "list(string)";
    if constexpr (std::is_same_v<T, std::uint16_t>) return "list(port)";
    if constexpr (std::is_same_v<T, k8s_service_ref>) {
      return "list({k8sService: {serviceName, namespace}})";
    }
    if constexpr (std::is_same_v<T, pod_peer>) return "list({namespace, matchLabels})";
  }
  static std::optional<std::vector<T>> parse(const rapidjson::Value& v, const std::string& path,
                                             check_fn check, errors_t& errors) {
    if (!v.IsArray()) {
      wrong_type(v, path, "a list", errors);
      return std::nullopt;
    }
    std::vector<T> out;
    bool ok = true;
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      if (auto item = codec<T>::parse(v[i], index(path, i), check, errors)) {
        out.push_back(std::move(*item));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }
  static std::string emit(const std::vector<T>& items) {
    if (items.empty()) return "[]";
    std::string out;
    if constexpr (is_scalar_item<T>) {
      out = "[";
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += ", ";
        out += codec<T>::emit(items[i]);
      }
      out += "]";
      // Long lists read better one item per line.
      if (out.size() <= 80) return out;
      out.clear();
      for (const auto& item : items) out += "\n  - " + codec<T>::emit(item);
      return out;
    } else {
      for (const auto& item : items) out += "\n  - " + codec<T>::emit(item);
      return out;
    }
  }
};

std::optional<std::string> check_namespace_name(std::string_view s) {
  if (is_dns1123_label(s)) return std::nullopt;
  return "\"" + std::string(s) +
         "\" is not a valid namespace name (DNS-1123 label: at most 63 lowercase letters, digits "
         "or '-', starting and ending with a letter or digit)";
}

std::optional<std::string> codec<k8s_service_ref>::check_namespace(std::string_view s) {
  return check_namespace_name(s);
}

std::optional<std::string> check_label_key(std::string_view s) {
  if (s.empty()) return "empty label key";
  if (is_qualified_name(s)) return std::nullopt;
  return "\"" + std::string(s) +
         "\" is not a valid label key (optional DNS subdomain prefix and '/', then at most 63 "
         "characters [A-Za-z0-9-_.] starting and ending alphanumeric)";
}

std::optional<std::string> check_optional_label_key(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return check_label_key(s);
}

std::optional<std::string> check_non_empty(std::string_view s) {
  if (s.empty()) return "empty string";
  return std::nullopt;
}

std::optional<std::string> check_role_name(std::string_view s) {
  if (std::find(role_names.begin(), role_names.end(), s) != role_names.end()) return std::nullopt;
  return "\"" + std::string(s) +
         "\" is not a namespace role (platform, tenant, training or inference)";
}

std::optional<std::string> check_fqdn_pattern(std::string_view s) {
  std::string problem = fqdn_entry_error(s);
  if (problem.empty()) return std::nullopt;
  return problem;
}

std::optional<std::string> check_cidr(std::string_view s) {
  if (is_cidr(s)) return std::nullopt;
  return "\"" + std::string(s) + "\" is not a CIDR (e.g. \"10.0.0.0/8\" or \"fd00::/8\")";
}

// --- the key table ---
struct row {
  std::string key;
  std::string type;
  std::string doc;
  std::function<void(const rapidjson::Value&, config&, const std::string&, errors_t&)> parse;
  std::function<std::string(const config&)> emit;
};

template <typename C, typename T>
T member_type_of(T C::*);

template <auto Member>
row make_row(std::string key, std::string doc, check_fn check = nullptr) {
  using T = decltype(member_type_of(Member));
  row r;
  r.type = codec<T>::type_name();
  r.key = std::move(key);
  r.doc = std::move(doc);
  r.parse = [check](const rapidjson::Value& v, config& cfg, const std::string& path,
                    errors_t& errors) {
    if (auto value = codec<T>::parse(v, path, check, errors)) cfg.*Member = std::move(*value);
  };
  r.emit = [](const config& cfg) { return codec<T>::emit(cfg.*Member); };
  return r;
}

const std::vector<row>& rows() {
  static const std::vector<row> table = [] {
    std::vector<row> t;
    // The module's inputs.
    t.push_back(make_row<&config::enabled>(
        "enabled", "Enable network policies; false turns mlnetpol into a no-op."));
    t.push_back(make_row<&config::cilium_mode>(
        "cilium_mode", "Render CiliumNetworkPolicy (L7, FQDN) instead of NetworkPolicy."));
    t.push_back(make_row<&config::platform_namespaces>(
        "platform_namespaces", "Platform namespaces to secure (default deny, HTTPS-only egress).",
        check_namespace_name));
    t.push_back(make_row<&config::tenant_namespaces>(
        "tenant_namespaces", "Tenant namespaces to secure (default deny).", check_namespace_name));
    t.push_back(make_row<&config::enable_ml_policies>(
        "enable_ml_policies", "Enable ML-specific policies and workload-type labelling."));
    t.push_back(make_row<&config::ml_training_namespaces>(
        "ml_training_namespaces", "Training workload namespaces.", check_namespace_name));
    t.push_back(make_row<&config::ml_inference_namespaces>(
        "ml_inference_namespaces", "Inference workload namespaces.", check_namespace_name));
    t.push_back(make_row<&config::inference_allowed_services>(
        "inference_allowed_services", "Services inference pods may reach."));
    // Admission (label engine).
    t.push_back(make_row<&config::enforcement>(
        "enforcement_mode",
        "enforce (patch, deny violations) | warn (patch, allow with warnings) | audit (observe "
        "only); per namespace: label mlnetpol.io/enforcement."));
    t.push_back(make_row<&config::label_key>(
        "label_key", "The workload label injected and validated on ML pods.", check_label_key));
    t.push_back(make_row<&config::exempt_namespaces>(
        "exempt_namespaces", "Namespaces always allowed, never patched.", check_namespace_name));
    t.push_back(make_row<&config::exempt_users>(
        "exempt_users", "Users always allowed, never patched.", check_non_empty));
    t.push_back(make_row<&config::exempt_groups>(
        "exempt_groups", "Groups always allowed, never patched.", check_non_empty));
    t.push_back(make_row<&config::admin_groups>(
        "admin_groups", "Groups that may change or delete managed policies.", check_non_empty));
    t.push_back(make_row<&config::service_account>(
        "service_account", "The webhook's own identity; may always change managed policies.",
        check_non_empty));
    t.push_back(make_row<&config::deny_host_network>(
        "deny_host_network",
        "Deny hostNetwork pods in secured and ML namespaces (they bypass policies)."));
    t.push_back(make_row<&config::deny_host_network_roles>(
        "deny_host_network_roles",
        "Roles (platform, tenant, training, inference) whose namespaces deny hostNetwork pods.",
        check_role_name));
    t.push_back(make_row<&config::tenant_policy_guardrails>(
        "tenant_policy_guardrails",
        "Tenant NetworkPolicies/CiliumNetworkPolicies in secured namespaces that open egress or "
        "ingress to everything, or leave the namespace without annotation "
        "mlnetpol.io/exception-reason: enforce (deny) | warn | audit; admin_groups exempt."));
    // Renderer.
    t.push_back(make_row<&config::monitoring_namespace>(
        "monitoring_namespace", "Namespace whose Prometheus scrapes ML pods.",
        check_namespace_name));
    t.push_back(make_row<&config::ingress_controller_namespaces>(
        "ingress_controller_namespaces", "Namespaces whose pods may send traffic to inference.",
        check_namespace_name));
    t.push_back(make_row<&config::ingress_controller_pods>(
        "ingress_controller_pods",
        "Pods (namespace + labels) that may send traffic to inference."));
    t.push_back(make_row<&config::secure_ml_namespaces>(
        "secure_ml_namespaces", "Default deny for every pod of an ML namespace."));
    t.push_back(make_row<&config::standard_ml_policies>(
        "standard_ml_policies", "Render the ML rules in standard (NetworkPolicy) mode too."));
    t.push_back(make_row<&config::training_metrics_ports>(
        "training_metrics_ports", "Ports the monitoring namespace may scrape on training pods."));
    t.push_back(make_row<&config::inference_serving_ports>(
        "inference_serving_ports", "Ports ingress controllers may reach on inference pods."));
    t.push_back(make_row<&config::inference_metrics_ports>(
        "inference_metrics_ports", "Ports the monitoring namespace may scrape on inference pods."));
    t.push_back(make_row<&config::training_egress_fqdns>(
        "training_egress_fqdns", "Cilium FQDN patterns training pods may reach.",
        check_fqdn_pattern));
    t.push_back(make_row<&config::inference_egress_fqdns>(
        "inference_egress_fqdns", "Cilium FQDN patterns inference pods may reach.",
        check_fqdn_pattern));
    t.push_back(make_row<&config::platform_pod_selector_key>(
        "platform_pod_selector_key",
        "Label key selecting platform pods for platform-https-only (empty: every pod).",
        check_optional_label_key));
    t.push_back(make_row<&config::api_server_ports>(
        "api_server_ports", "Ports the kube-apiserver answers on (EKS 443, kubeadm 6443)."));
    t.push_back(make_row<&config::api_server_cidrs>(
        "api_server_cidrs",
        "Standard mode: CIDRs of the API server endpoints (empty: the ports to any address).",
        check_cidr));
    t.push_back(make_row<&config::monitoring_scrapes_ml>(
        "monitoring_scrapes_ml", "The monitoring namespace may scrape ML pods."));
    t.push_back(make_row<&config::cilium_default_deny_field>(
        "cilium_default_deny_field",
        "Cilium: write spec.enableDefaultDeny (CRD of Cilium >= 1.15); false for older Cilium."));
    t.push_back(make_row<&config::standard_platform_policies>(
        "standard_platform_policies",
        "Standard mode: render platform-https-only as NetworkPolicy platform-egress-https."));
    t.push_back(make_row<&config::https_egress_except_cidrs>(
        "https_egress_except_cidrs",
        "Standard mode stand-in for FQDN rules: TCP 443 anywhere except these CIDRs.", check_cidr));
    return t;
  }();
  return table;
}

// The namespace a "system:serviceaccount:<namespace>:<name>" identity lives in; empty otherwise.
std::string_view service_account_namespace(std::string_view identity) {
  constexpr std::string_view prefix = "system:serviceaccount:";
  if (identity.substr(0, prefix.size()) != prefix) return {};
  identity.remove_prefix(prefix.size());
  const std::size_t colon = identity.find(':');
  return colon == std::string_view::npos ? std::string_view{} : identity.substr(0, colon);
}

// The one rule against configurations that cut the cluster's own traffic: no namespace the control
// plane, node heartbeats, mlnetpol itself or an exemption depends on may be in a list that secures
// (default-denies) its pods. Every offending entry is reported at its key path.
void refuse_cluster_cutting(config_parse_result& result) {
  const config& cfg = result.value;
  std::vector<std::pair<std::string, std::string>> protected_namespaces{
      {"kube-system", "it runs the cluster's DNS and system controllers"},
      {"kube-public", "it is readable by every client of the cluster"},
      {"kube-node-lease", "it holds the node heartbeats"}};
  std::string install(service_account_namespace(cfg.service_account));
  if (install.empty()) install = "mlnetpol-system";
  protected_namespaces.push_back({install, "mlnetpol itself runs there (service_account)"});
  for (const auto& ns : cfg.exempt_namespaces) {
    protected_namespaces.push_back({ns, "it is listed in exempt_namespaces"});
  }
  const std::pair<const char*, const std::vector<std::string>*> secured_lists[] = {
      {"platform_namespaces", &cfg.platform_namespaces},
      {"tenant_namespaces", &cfg.tenant_namespaces},
      {"ml_training_namespaces", &cfg.ml_training_namespaces},
      {"ml_inference_namespaces", &cfg.ml_inference_namespaces}};
  for (const auto& [key, list] : secured_lists) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string& name = (*list)[i];  // a structured binding cannot be captured (C++20)
      const auto hit = std::find_if(protected_namespaces.begin(), protected_namespaces.end(),
                                    [&](const auto& p) { return p.first == name; });
      if (hit == protected_namespaces.end()) continue;
      result.errors.push_back(
          {index(key, i), "\"" + hit->first + "\" must not be secured: " + hit->second +
                              ", and default-deny policies there would cut the cluster's own "
                              "traffic; remove it from " +
                              key});
    }
  }
}

}  // namespace

std::optional<enforcement_mode> parse_enforcement_mode(std::string_view text) {
  if (text == "enforce") return enforcement_mode::enforce;
  if (text == "warn") return enforcement_mode::warn;
  if (text == "audit") return enforcement_mode::audit;
  return std::nullopt;
}

config_parse_result parse_config(const rapidjson::Value& root) {
  config_parse_result result;
  if (root.IsNull()) return result;
  if (!root.IsObject()) {
    result.errors.push_back({"", "the configuration must be a map of keys, got " + type_of(root)});
    return result;
  }
  std::vector<std::string> keys;
  for (const auto& r : rows()) keys.push_back(r.key);
  std::string listed_at;
  for (const auto& member : root.GetObject()) {
    const std::string key = sv(member.name);
    const auto it =
        std::find_if(rows().begin(), rows().end(), [&](const row& r) { return r.key == key; });
    if (it == rows().end()) {
      std::string message = unknown_key_message(key, keys, key, listed_at);
      result.errors.push_back({key, std::move(message)});
      continue;
    }
    it->parse(member.value, result.value, key, result.errors);
  }
  refuse_cluster_cutting(result);
  return result;
}

std::vector<std::string> permissive_settings(const config& cfg) {
  std::vector<std::string> out;
  if (cfg.enabled && !cfg.cilium_mode && cfg.api_server_cidrs.empty() &&
      !cfg.api_server_ports.empty() && !policy_namespaces(cfg).empty()) {
    std::string ports;
    for (const auto p : cfg.api_server_ports) {
      ports += (ports.empty() ? "" : ", ") + std::to_string(p);
    }
    out.push_back("api_server_cidrs is empty: secured pods may reach TCP " + ports +
                  " at any address, not only the Kubernetes API; set it to the CIDRs of the API "
                  "server endpoints (kubectl get endpoints kubernetes)");
  }
  return out;
}

std::vector<config_key_info> config_keys() {
  std::vector<config_key_info> out;
  for (const auto& r : rows()) out.push_back({r.key, r.type, r.doc});
  return out;
}

std::string format_config_yaml(const config& cfg) {
  std::string out =
      "# mlnetpol configuration (YAML or JSON). Every key is optional; absent keys take these\n"
      "# defaults. Reference: docs/configuration.md.\n";
  for (const auto& r : rows()) {
    const std::string value = r.emit(cfg);
    out += "\n# " + r.doc + "\n" + r.key + (value.front() == '\n' ? ":" : ": ") + value + "\n";
  }
  return out;
}

}  // namespace mlnetpol::policy
