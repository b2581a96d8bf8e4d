#include "app/manifest_documents.hpp"

#include <doctest/doctest.h>

#include "tests/support/yaml_aliases.hpp"

using mlnetpol::app::manifest_objects;
using mlnetpol::app::parse_documents;

TEST_CASE("manifest documents: YAML scalars are typed like YAML 1.2's core schema") {
  auto docs = parse_documents(
      "a: 1\nb: \"1\"\nc: true\nd: 'true'\ne: 1.5\nf: ~\ng: 0755x\nh: -3\ni: .5\nj: 1e3\nk: \n"
      "l: '8080'\nm: 1.2.3\n",
      "t.yaml");
  REQUIRE(docs.has_value());
  REQUIRE(docs->Size() == 1);
  const rapidjson::Value& d = (*docs)[0u];
  CHECK(d["a"].IsInt64());
  CHECK(d["b"].IsString());
  CHECK(d["c"].IsBool());
  CHECK(d["d"].IsString());
  CHECK(d["e"].IsDouble());
  CHECK(d["f"].IsNull());
  CHECK(d["g"].IsString());
  CHECK(d["h"].GetInt64() == -3);
  CHECK(d["i"].IsDouble());
  CHECK(d["j"].IsDouble());
  CHECK(d["k"].IsNull());
  CHECK(d["l"].IsString());
  CHECK(d["m"].IsString());
}

TEST_CASE("manifest documents: multi-document YAML, JSON, Lists, empty documents") {
  auto objs = manifest_objects(
      "---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# only a comment\n---\n"
      "apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n"
      "- {apiVersion: v1, kind: Pod, metadata: {name: c}}\n",
      "m.yaml");
  REQUIRE(objs.has_value());
  REQUIRE(objs->size() == 3);
  CHECK((*objs)[0].source == "m.yaml#1");
  CHECK((*objs)[1].source == "m.yaml#3.items[0]");
  CHECK((*objs)[2].source == "m.yaml#3.items[1]");
  CHECK(std::string((*(*objs)[2].object)["metadata"]["name"].GetString()) == "c");
  // One holder (one allocator) per file, not a 64 KiB pool per document.
  CHECK((*objs)[0].document == (*objs)[2].document);

  auto json = manifest_objects(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"port": 53}})",
                               "p.json");
  REQUIRE(json.has_value());
  REQUIRE(json->size() == 1);
  CHECK((*(*json)[0].object)["metadata"]["port"].IsInt());

  CHECK_FALSE(manifest_objects("[1, 2]", "x.json").has_value());
  CHECK_FALSE(manifest_objects("apiVersion: v1\nkind: List\nitems: {}\n", "l.yaml").has_value());
  const auto dup = manifest_objects("apiVersion: v1\nkind: Pod\nkind: Pod\n", "d.yaml");
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().message == "d.yaml: document 1: line 3: duplicate key \"kind\"");
}

TEST_CASE("manifest documents: deep YAML is an error naming the source and line, not a crash") {
  const std::string deep = "apiVersion: v1\nkind: Pod\n---\nspec: " + std::string(5000, '[') + "\n";
  const auto r = manifest_objects(deep, "deep.yaml");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "deep.yaml: YAML nests deeper than 256 levels at line 4");
  // JSON-looking text that is too deep for the JSON parser falls to YAML and its check.
  const auto j = parse_documents(std::string(100000, '['), "deep.json");
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error().message == "deep.json: YAML nests deeper than 256 levels at line 1");
}

TEST_CASE("manifest documents: alias cycles and bombs are errors naming the document") {
  const auto cycle =
      manifest_objects("apiVersion: v1\nkind: Pod\nmetadata: &m {name: x, labels: *m}\n", "c.yaml");
  REQUIRE_FALSE(cycle.has_value());
  CHECK(
      cycle.error().message.rfind("c.yaml: document 1: line 3: values nest deeper than 256 levels "
                                  "through aliases",
                                  0) == 0);
  // Many documents share one budget: a file of small bombs is refused like one big one.
  const std::string doc =
      "apiVersion: v1\nkind: ConfigMap\n" + mlnetpol::testing::alias_levels(2, "a");
  REQUIRE(manifest_objects(doc, "one.yaml").has_value());  // 10^3 values: within 4 Ki
  std::string many;
  for (int i = 0; i < 40; ++i) many += "---\n" + doc;
  const auto bombs = manifest_objects(many, "many.yaml");
  REQUIRE_FALSE(bombs.has_value());
  CHECK(bombs.error().message.find("many.yaml: document ") == 0);
  CHECK(bombs.error().message.find("aliases repeat more than the text's size allows") !=
        std::string::npos);
}

TEST_CASE("manifest documents: text yaml-cpp 0.7's LoadAll loops on is an error, at once") {
  // Its parser reports an empty document at a stray top-level token forever (yaml-cpp#1319).
  for (const std::string text : {",\n", "apiVersion: v1\nkind: Pod\n---\n, x\n",
                                 "{\"kind\": \"Pod\",\n \"apiVersion\": \"v1\"}\n}, ]\n"}) {
    CAPTURE(text);
    const auto r = manifest_objects(text, "s.yaml");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find(": invalid YAML: ") != std::string::npos);
  }
  CHECK(manifest_objects(",\n", "s.yaml").error().message ==
        "s.yaml:1:1: invalid YAML: unexpected token where a document should start");
  // Empty documents in a row are documents, not that loop.
  const auto empties = parse_documents("---\n---\n...\n---\n# c\n---\n", "e.yaml");
  REQUIRE(empties.has_value());
  CHECK(empties->Size() == 4);
  const auto none = manifest_objects("---\n---\n--- # c\n", "e.yaml");
  REQUIRE(none.has_value());
  CHECK(none->empty());
}
