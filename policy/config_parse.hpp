#pragma once
// From a JSON value (the loader converts YAML to it) to policy::config, collecting every error with
// the key path it is about. Table-driven: a new config key is one row in config_parse.cpp.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/config.hpp"

namespace mlnetpol::policy {

struct config_error {
  std::string path;  // e.g. "ml_training_namespaces[1]", "inference_allowed_services[0].k8sService"
  std::string message;  // what is wrong and what is expected
};

struct config_parse_result {
  config value;  // defaults for every key that is absent or wrong
  std::vector<config_error> errors;
  bool ok() const { return errors.empty(); }
};

// A null value (an empty file) gives the defaults.
config_parse_result parse_config(const rapidjson::Value& root);

std::optional<enforcement_mode> parse_enforcement_mode(std::string_view text);

// Settings that are valid but open more than an operator may expect (e.g. empty api_server_cidrs
// in standard mode: the API server ports to any address). `render` prints them as warnings.
std::vector<std::string> permissive_settings(const config& cfg);

// One row of the key table, for documentation and the default file.
struct config_key_info {
  std::string key;
  std::string type;  // e.g. "bool", "list(string)"
  std::string doc;
};
std::vector<config_key_info> config_keys();

// The configuration as YAML (one commented line per key), parseable by the loader.
std::string format_config_yaml(const config& cfg);


}  // namespace mlnetpol::policy
