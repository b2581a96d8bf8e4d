#include "app/yaml_json.hpp"

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include "tests/support/yaml_aliases.hpp"

namespace {

using mlnetpol::app::yaml_conversion_error;
using mlnetpol::app::yaml_expansion_budget;
using mlnetpol::app::yaml_to_json;
using mlnetpol::testing::alias_levels;

struct converted {
  rapidjson::Document document;
  std::vector<yaml_conversion_error> errors;
  std::size_t budget_left = 0;
};

converted convert(const std::string& text) {
  converted c;
  c.budget_left = yaml_expansion_budget(text.size());
  const YAML::Node root = YAML::Load(text);
  rapidjson::Value v = yaml_to_json(root, c.document.GetAllocator(), c.errors, c.budget_left);
  static_cast<rapidjson::Value&>(c.document) = std::move(v);
  return c;
}

}  // namespace

TEST_CASE("yaml_to_json: aliases are expanded within the text's budget") {
  auto c = convert("base: &b {image: x, ports: [80, 443]}\na: *b\nb: [*b, *b]\n");
  REQUIRE(c.errors.empty());
  CHECK(c.document["a"]["ports"][1].GetInt64() == 443);
  CHECK(c.document["b"][1]["image"] == "x");
  // A thousand repeats of a small anchor in a small file: the 4 Ki floor keeps it legal.
  const auto small = convert(alias_levels(2, "a"));
  REQUIRE(small.errors.empty());
  CHECK(small.document["l2"][9][9][9] == "a");
}

TEST_CASE("yaml_to_json: an alias bomb stops at the budget with an error, not after 10^9 values") {
  const std::string text = alias_levels(9);
  const auto c = convert(text);
  REQUIRE(c.errors.size() == 1);
  CHECK(c.errors[0].message ==
        "aliases repeat more than the text's size allows (2 values or bytes per byte of text); "
        "write the repeated values out or use fewer aliases");
  CHECK(c.errors[0].path.rfind("l", 0) == 0);
  CHECK(c.budget_left == 0);
  // The budget is what is spent: a text without aliases never reaches it.
  const std::string flat =
      "k: [" + std::string(20000, 'a') + ", " + std::string(30000, '1') + "]\n";
  const auto f = convert(flat);
  CHECK(f.errors.empty());
  CHECK(f.budget_left >= yaml_expansion_budget(flat.size()) - 2 * flat.size());
}

TEST_CASE("yaml_to_json: an alias inside the node it names is an error, not a stack overflow") {
  for (const std::string text :
       {"a: &a [*a]\n", "a: &a {b: *a}\n", "apiVersion: v1\nmetadata: &m {name: x, labels: *m}\n",
        "- &s\n  - x\n  - *s\n"}) {
    CAPTURE(text);
    const auto c = convert(text);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message ==
          "values nest deeper than 256 levels through aliases (an alias inside the node it "
          "names?)");
  }
}

TEST_CASE("yaml_to_json: errors name their path and line; at most 100 are listed") {
  auto c = convert("a:\n  b:\n  - {x: 1, x: 2}\n");
  REQUIRE(c.errors.size() == 1);
  CHECK(c.errors[0].path == "a.b[0].x");
  CHECK(c.errors[0].line == 3);
  CHECK(c.errors[0].key == "x");
  CHECK(c.errors[0].message == "duplicate key");
  // A long key is cut in paths (each error would copy it once per level).
  const std::string long_key(1000, 'k');
  c = convert(long_key + ":\n  [1]: x\n");
  REQUIRE(c.errors.size() == 1);
  CHECK(c.errors[0].path == std::string(64, 'k') + "...");
  CHECK(c.errors[0].message == "map keys must be strings");
  std::string many;
  for (int i = 0; i < 500; ++i) many += "d: " + std::to_string(i) + "\n";
  c = convert(many);
  CHECK(c.errors.size() == 100);
}

TEST_CASE("yaml_to_json: a long path keeps its first and last six steps") {
  const auto c = convert("a: &a {b: [*a]}\n");
  REQUIRE(c.errors.size() == 1);
  CHECK(c.errors[0].path == "a.b[0].b[0].b...b[0].b[0].b[0]");
  auto shallow = convert("a: {b: [{c: {d: [[{x: 1, x: 2}]]}}]}\n");
  REQUIRE(shallow.errors.size() == 1);
  CHECK(shallow.errors[0].path == "a.b[0].c.d[0][0].x");
}

TEST_CASE("yaml_to_json: entries left out still spend the budget") {
  // One per entry and per key byte, also where the key is refused and its value never converted:
  // else a map of bad keys repeated through aliases is walked for free.
  const std::string bad_keys = "{[a]: 1, [b]: 2, [c]: 3}";
  auto c = convert(bad_keys);
  CHECK(c.errors.size() == 3);
  CHECK(yaml_expansion_budget(bad_keys.size()) - c.budget_left == 1 + 3);
  const std::string empty_keys = "{\"\": 1, \"\": 2}";  // the map, two entries, one value "1"
  c = convert(empty_keys);
  CHECK(c.errors.size() == 1);
  CHECK(yaml_expansion_budget(empty_keys.size()) - c.budget_left == 1 + 1 + 2 + 1);
  std::string text = "m: &m {\"\": 1, \"\": 2";
  for (int i = 0; i < 200; ++i) text += ", [k]: v";
  c = convert(text + "}\n" + alias_levels(5, "*m"));
  REQUIRE(c.errors.size() == 101);  // 100 listed, then the budget's
  CHECK(c.errors.back().message.find("aliases repeat more than the text's size allows") == 0);
}
