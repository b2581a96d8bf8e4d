// Golden renders: the exact bytes for every test configuration, checked in under
// tests/render/golden/. Regenerate after an intended change with
//   MLNETPOL_UPDATE_GOLDEN=1 build/tests/policy/policy_tests -tc='render golden*'
// and review the diff.
#include <doctest/doctest.h>

#include "tests/support/files.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "policy/render/clusterwide.hpp"
#include "policy/render/render.hpp"
#include "tests/support/test_configs.hpp"

using namespace mlnetpol;

namespace {

const std::filesystem::path golden_dir =
    std::filesystem::path(MLNETPOL_SOURCE_DIR) / "tests" / "render" / "golden";


bool updating() {
  const char* v = std::getenv("MLNETPOL_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

void check_golden(const std::string& file, const std::string& actual) {
  const auto path = golden_dir / file;
  if (updating()) {
    std::ofstream(path, std::ios::binary) << actual;
    MESSAGE("wrote " << path.string());
    return;
  }
  INFO("golden " << path.string()
                 << " (regenerate: MLNETPOL_UPDATE_GOLDEN=1 policy_tests -tc='render golden*')");
  REQUIRE(std::filesystem::exists(path));
  const std::string expected = mlnetpol::testing::read_text(path);
  CHECK(expected.size() == actual.size());
  // Report the first differing line rather than two huge strings.
  std::istringstream e(expected), a(actual);
  std::string el, al;
  int line = 0;
  while (true) {
    ++line;
    const bool more_e = static_cast<bool>(std::getline(e, el));
    const bool more_a = static_cast<bool>(std::getline(a, al));
    if (!more_e && !more_a) break;
    if (el != al || more_e != more_a) {
      INFO("first difference at line " << line);
      CHECK(el == al);
      break;
    }
  }
}

}  // namespace

TEST_CASE("render golden: every test configuration, as a JSON List and as YAML") {
  for (const auto& [name, cfg] : testing::all_configs()) {
    CAPTURE(name);
    const auto objects = policy::render_all(cfg);  // what `mlnetpol render` prints
    check_golden(name + ".json", policy::list_json(objects, true));
    check_golden(name + ".yaml", policy::objects_yaml(objects));
  }
}

TEST_CASE("render golden: the picture of the module's Enhanced example") {
  const std::string dot = policy::render_dot(testing::enhanced_config());
  check_golden("enhanced.dot", dot);
  // The picture in docs/policies.md is drawn from docs/enhanced-example.dot: it must show today's rules.
  // After regenerating: cp tests/render/golden/enhanced.dot docs/enhanced-example.dot &&
  //   dot -Tpng -Gdpi=80 docs/enhanced-example.dot -o docs/enhanced-example.png
  const auto docs_dot =
      std::filesystem::path(MLNETPOL_SOURCE_DIR) / "docs" / "enhanced-example.dot";
  REQUIRE(std::filesystem::exists(docs_dot));
  CHECK(mlnetpol::testing::read_text(docs_dot) == dot);
}

TEST_CASE("render golden: summaries") {
  std::string all;
  for (const auto& [name, cfg] : testing::all_configs()) {
    all += name + " " + policy::summary_json(policy::summarize(cfg)) + "\n";
  }
  check_golden("summaries.txt", all);
}
