#pragma once
// A linear, non-recursive nesting bound for YAML text, checked before yaml-cpp (which parses
// recursively, one frame per level, and unwinds an exception through all of them at its own limit)
// sees untrusted text: configuration files, manifests given to `review`, kubeconfigs.
#include <string_view>

#include "common/json_parse.hpp"
#include "common/result.hpp"

namespace mlnetpol::yaml {

// Fails with "YAML nests deeper than 256 levels at line 12" when yaml-cpp 0.7 could recurse deeper
// than max_depth on text (and with "YAML text must be UTF-8: ..." for the NUL bytes and UTF-16/32
// byte-order marks that would make it decode the text differently). The scan follows yaml-cpp's
// scanner (indentation, flow collections, quoted and block scalars, comments, simple keys) and
// over-approximates the parser: a flow sequence counts two levels (an entry may be a one-pair map),
// and `:` or `?` chains count one each. Real files nest far less than the JSON parser's 256.
result<void> check_yaml_depth(std::string_view text, unsigned max_depth = json::default_max_depth);

}  // namespace mlnetpol::yaml
