#pragma once
// YAML (yaml-cpp's tree) into RapidJSON: the one converter behind configuration files and the
// manifests `review`, `explain` and `matrix` read. Plain scalars are typed as YAML 1.2's core
// schema types them; quoted ones stay strings.
#include <cstddef>
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

// What converting the documents of a text of text_size bytes may produce, in values and scalar
// bytes: text without aliases needs about one per byte; aliases may repeat what they name within
// the rest (2 per byte, plus 4 Ki for small files).
std::size_t yaml_expansion_budget(std::size_t text_size);

// node as JSON; keys that are not scalars or repeat are left out and reported in errors (every
// one up to 100, so a file's problems are listed at once). A map of n keys costs n log n.
// budget (from yaml_expansion_budget, shared by one text's documents) is spent as values are
// made. Aliases repeat the node they name: one that runs it out (a "billion laughs") or nests
// values deeper than the JSON parser allows (an alias inside the node it names) ends the conversion
// with an error, in time and memory linear in the text.
rapidjson::Value yaml_to_json(const YAML::Node& node, rapidjson::Document::AllocatorType& alloc,
                              std::vector<yaml_conversion_error>& errors, std::size_t& budget);

}  // namespace mlnetpol::app
