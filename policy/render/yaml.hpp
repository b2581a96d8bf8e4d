#pragma once
// JSON text to block-style YAML with the same meaning: strings that a YAML 1.1 or 1.2 reader could
// take for something else (numbers, booleans, `*`, `k8s:...`) are double-quoted.
#include <string>
#include <string_view>

namespace mlnetpol::policy::render {

// One YAML document (without the leading "---"), ending in a newline. Invalid JSON gives "".
std::string json_to_yaml(std::string_view json);

}  // namespace mlnetpol::policy::render
