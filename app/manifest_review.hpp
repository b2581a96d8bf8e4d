#pragma once
// `mlnetpol review` of plain manifests (what `kubectl apply -f` or `helm template` produce): each
// object is reviewed as a CREATE in its namespace, through both webhooks, with the configuration.
#include <string>
#include <vector>

#include "policy/config.hpp"

namespace mlnetpol::app {

struct manifest_input {
  std::string source;  // file name, or "stdin"
  std::string text;
};

struct manifest_review_options {
  std::string default_namespace = "default";  // --namespace; objects without metadata.namespace
  bool json_output = false;                   // -o json
};

// Prints one line per object (or one JSON document) to stdout; returns the exit code: 0 nothing
// denied, 1 at least one object denied, 2 input that is not Kubernetes objects.
int review_manifests(const std::vector<manifest_input>& inputs,
                     const manifest_review_options& options, const policy::config& cfg);

// The username the offline review acts as (not exempt unless the configuration says so).
inline constexpr const char* review_username = "mlnetpol-review";

}  // namespace mlnetpol::app
