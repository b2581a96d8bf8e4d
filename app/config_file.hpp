#pragma once
// Reads a configuration file (YAML or JSON) into policy::config. I/O lives here, not in policy/.
#include <filesystem>
#include <string>

#include "common/result.hpp"
#include "policy/config.hpp"

namespace mlnetpol::app {

// The error reads "path/to/file: key.path: what is wrong", one line per problem.
result<policy::config> load_config_file(const std::filesystem::path& path);
// The embedded default (the module's defaults) as YAML text, for `render`/docs and the ConfigMap.
const char* default_config_yaml();

}  // namespace mlnetpol::app
