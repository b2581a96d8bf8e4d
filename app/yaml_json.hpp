#pragma once
// YAML (yaml-cpp's tree) into RapidJSON: the one converter behind configuration files and the
// manifests `review`, `explain` and `matrix` read. Plain scalars are typed as YAML 1.2's core
// schema types them; quoted ones stay strings.
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

namespace mlnetpol::app {

struct yaml_conversion_error {
  std::string path;     // "a.b[2].c", "" for the root
  int line = 0;         // 1-based line of the offending key
  std::string key;      // the repeated key; "" for a key that is not a scalar
  std::string message;  // "duplicate key", "map keys must be strings"
};

// node as JSON; keys that are not scalars or repeat are left out and reported in errors (every
// one, so a file's problems are listed at once). A map of n keys costs n log n.
rapidjson::Value yaml_to_json(const YAML::Node& node, rapidjson::Document::AllocatorType& alloc,
                              std::vector<yaml_conversion_error>& errors);

}  // namespace mlnetpol::app
