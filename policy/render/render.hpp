#pragma once
// Renders the network policies every secured namespace must hold (NetworkPolicy or
// CiliumNetworkPolicy), and the module's outputs. Pure: config in, JSON text out.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/config.hpp"
#include "policy/labels.hpp"  // the labels and annotation every rendered object carries
#include "policy/namespaces.hpp"

namespace mlnetpol::policy {

struct rendered_object {
  std::string api_version;  // networking.k8s.io/v1 | cilium.io/v2
  std::string kind;         // NetworkPolicy | CiliumNetworkPolicy
  std::string namespace_name;
  std::string name;
  std::string spec_hash;  // also in the object's annotations
  std::string json;       // the whole object, compact JSON, deterministic
};

// All objects, in a stable order (namespace order of secured/policy namespaces, then name).
// only_namespace filters to one namespace when not empty.
std::vector<rendered_object> render_policies(const config& cfg,
                                             std::string_view only_namespace = {});
// The objects of one namespace whose roles are known (namespace_index::roles): what
// render_policies(cfg, namespace_name) returns, at a cost independent of the namespace count.
std::vector<rendered_object> render_namespace(const config& cfg, const std::string& namespace_name,
                                              const namespace_roles& roles);

// The module's outputs.
struct render_summary {
  std::vector<std::string> secured_namespaces;
  bool cilium_mode_enabled = false;
  bool ml_policies_enabled = false;
  std::size_t policy_count = 0;
};

render_summary summarize(const config& cfg);
// The same with the policy count of each namespace from `policies_of` (a cache of the renders).
render_summary summarize(const config& cfg, const namespace_index& index,
                         const std::function<std::size_t(const std::string&)>& policies_of);
std::string summary_json(const render_summary& summary);  // {"secured_namespaces":[...],...}

// The objects as a v1 List (what `kubectl get -o json` prints); pretty: indented, else compact.
std::string list_json(const std::vector<rendered_object>& objects, bool pretty);
// The objects as multi-document YAML ("---" between documents), block style, for kubectl apply.
std::string objects_yaml(const std::vector<rendered_object>& objects);
// What the policies allow as a Graphviz digraph: namespaces as clusters (default deny marked),
// pod groups and external destinations as nodes, allowed flows as edges labelled with ports.
std::string render_dot(const config& cfg, std::string_view only_namespace = {});

// What is wrong with the renderer's part of a configuration ("key: problem"); empty when it renders
// valid objects.
std::vector<std::string> validate_render_config(const config& cfg);

}  // namespace mlnetpol::policy
