#pragma once
// YAML that expands through aliases (the one builder the YAML tests share): level 0 is a list of
// ten scalars, each further level a list of ten aliases to the one below, so `levels` levels name
// 10^(levels + 1) scalars in a few hundred bytes (a "billion laughs" from 8 on).
#include <string>

namespace mlnetpol::testing {

// "l0: &l0 [lol, ...]\nl1: &l1 [*l0, ...]\n..." up to l<levels>, as top-level keys.
inline std::string alias_levels(int levels, const std::string& scalar = "lol") {
  std::string text = "l0: &l0 [" + scalar;
  for (int j = 1; j < 10; ++j) text += ", " + scalar;
  text += "]\n";
  for (int i = 1; i <= levels; ++i) {
    const std::string below = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + below;
    for (int j = 1; j < 10; ++j) text += ", " + below;
    text += "]\n";
  }
  return text;
}

}  // namespace mlnetpol::testing
