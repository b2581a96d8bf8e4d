#include "admission/json_patch.hpp"

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_parse.hpp"
#include "tests/admission/test_support.hpp"

namespace {

using mlnetpol::admission::append_pointer_token;
using mlnetpol::admission::json_patch;
using mlnetpol::admission::json_pointer;
using mlnetpol::admission::patch_for_entries;
using mlnetpol::admission::testing::fixture;
using mlnetpol::policy::map_entry;
using nlohmann::json;

const std::vector<std::string> pod_meta = {"metadata"};
const std::vector<std::string> template_meta = {"spec", "template", "metadata"};

map_entry label(const std::vector<std::string>& path, std::string key, std::string value) {
  return {{path.begin(), path.end()}, "labels", std::move(key), std::move(value)};
}

map_entry annotation(const std::vector<std::string>& path, std::string key, std::string value) {
  return {{path.begin(), path.end()}, "annotations", std::move(key), std::move(value)};
}

// The admitted object of a fixture, as JSON text.
std::string object_of(const std::string& fixture_name) {
  return json::parse(fixture(fixture_name))["request"]["object"].dump();
}

// What applying the entries must give, built independently with nlohmann (operator[] creates
// missing objects and replaces nulls, as the patch must).
json expected_after(json object, const std::vector<map_entry>& entries) {
  for (const auto& e : entries) {
    json* node = &object;
    for (const auto& step : e.metadata_path) node = &(*node)[step];
    (*node)[e.map_name][e.key] = e.value;
  }
  return object;
}

struct patched {
  std::string patch;  // the JSON Patch text
  json ops;           // the patch parsed
  json result;        // the object after nlohmann applied the patch
};

// Builds the patch for the entries, applies it with nlohmann's independent RFC 6902
// implementation and checks the result is the original with exactly the entries set.
patched apply_entries(const std::string& object_text, const std::vector<map_entry>& entries) {
  rapidjson::Document object;
  REQUIRE(mlnetpol::json::parse(object, object_text).has_value());
  auto built = patch_for_entries(object, entries);
  REQUIRE_MESSAGE(built.has_value(), (built ? "" : built.error().message));
  patched out;
  out.patch = *built;
  const json original = json::parse(object_text);
  if (out.patch.empty()) {
    out.ops = json::array();
    out.result = original;
  } else {
    REQUIRE(out.patch == nlohmann::ordered_json::parse(out.patch).dump());  // compact
    out.ops = json::parse(out.patch);
    REQUIRE_NOTHROW(out.result = original.patch(out.ops));
  }
  CHECK(out.result == expected_after(original, entries));
  return out;
}

std::string error_of(const std::string& object_text, const std::vector<map_entry>& entries) {
  rapidjson::Document object;
  REQUIRE(mlnetpol::json::parse(object, object_text).has_value());
  auto built = patch_for_entries(object, entries);
  REQUIRE_FALSE(built.has_value());
  return built.error().message;
}

}  // namespace

TEST_CASE("JSON Pointer tokens with runs of both specials, in any order, escape each one") {
  CHECK(json_pointer({"a/b~c/d~~e//f"}) == "/a~1b~0c~1d~0~0e~1~1f");
  CHECK(json_pointer({"//~~/~"}) == "/~1~1~0~0~1~0");
  CHECK(json_pointer({"x", "/y", "z~"}) == "/x/~1y/z~0");
}

TEST_CASE("JSON Pointer tokens escape ~ before /") {
  CHECK(json_pointer({"metadata", "labels"}) == "/metadata/labels");
  CHECK(json_pointer({"a/b"}) == "/a~1b");
  CHECK(json_pointer({"a~b"}) == "/a~0b");
  CHECK(json_pointer({"a~1b"}) == "/a~01b");  // not "/a~1b", which would mean "a/b"
  CHECK(json_pointer({"~/"}) == "/~0~1");
  CHECK(json_pointer({""}) == "/");
  CHECK(json_pointer({}) == "");
  std::string pointer = "/metadata";
  append_pointer_token(pointer, "example.com/x");
  CHECK(pointer == "/metadata/example.com~1x");
}

TEST_CASE("json_patch serializes add, replace and remove compactly") {
  json_patch patch;
  CHECK(patch.empty());
  CHECK(patch.str() == "");
  patch.add("/metadata/labels/a", "1");
  rapidjson::Document map;
  REQUIRE(mlnetpol::json::parse(map, R"({"k":"v \"quoted\""})").has_value());
  patch.add("/metadata/annotations", map);
  patch.replace("/metadata/labels/b", "2");
  patch.replace("/spec", map);
  patch.remove("/metadata/labels/c~1d");
  CHECK(patch.size() == 5);
  CHECK(patch.str() ==
        R"([{"op":"add","path":"/metadata/labels/a","value":"1"},)"
        R"({"op":"add","path":"/metadata/annotations","value":{"k":"v \"quoted\""}},)"
        R"({"op":"replace","path":"/metadata/labels/b","value":"2"},)"
        R"({"op":"replace","path":"/spec","value":{"k":"v \"quoted\""}},)"
        R"({"op":"remove","path":"/metadata/labels/c~1d"}])");

  const json doc = {{"metadata", {{"labels", {{"b", "x"}, {"c/d", "y"}}}}}, {"spec", 1}};
  const json result = doc.patch(json::parse(patch.str()));
  CHECK(result ==
        json::parse(R"({"metadata":{"labels":{"a":"1","b":"2"},)"
                    R"("annotations":{"k":"v \"quoted\""}},"spec":{"k":"v \"quoted\""}})"));
}

TEST_CASE("a pod without metadata.labels gets one add of the whole map") {
  const auto object = object_of("pod-create-no-labels.json");
  REQUIRE(json::parse(object)["metadata"].count("labels") == 0);
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "training"),
                                        label(pod_meta, "mlnetpol.io/injected", "true")});
  REQUIRE(p.ops.size() == 1);
  CHECK(p.ops[0] ==
        json::parse(R"({"op":"add","path":"/metadata/labels",)"
                    R"("value":{"workload-type":"training","mlnetpol.io/injected":"true"}})"));
}

TEST_CASE("a pod with labels gets one add per new key") {
  const auto object = object_of("pod-create-kubectl-run.json");
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "inference")});
  REQUIRE(p.ops.size() == 1);
  CHECK(p.ops[0]["op"] == "add");
  CHECK(p.ops[0]["path"] == "/metadata/labels/workload-type");
  CHECK(p.result["metadata"]["labels"] == json({{"run", "nginx"}, {"workload-type", "inference"}}));
}

TEST_CASE("keys with / and ~ are escaped in paths and kept verbatim in values") {
  const auto object = object_of("pod-create-label-key-with-slash.json");
  const auto p = apply_entries(
      object, {label(pod_meta, "example.com/team~a", "ml"), label(pod_meta, "x~1y", "literal"),
               annotation(pod_meta, "mlnetpol.io/reason", "a/b~c")});
  REQUIRE(p.ops.size() == 3);
  CHECK(p.ops[0]["path"] == "/metadata/labels/example.com~1team~0a");
  CHECK(p.ops[1]["path"] == "/metadata/labels/x~01y");
  CHECK(p.result["metadata"]["labels"]["x~1y"] == "literal");
  CHECK(p.result["metadata"]["labels"].count("x/y") == 0);
  // The fixture has no annotations: the map is added whole with the raw key inside.
  CHECK(p.ops[2] == json::parse(R"({"op":"add","path":"/metadata/annotations",)"
                                R"("value":{"mlnetpol.io/reason":"a/b~c"}})"));
}

TEST_CASE("an existing label with a slash in its key is compared, not duplicated") {
  const auto object = object_of("pod-create-label-key-with-slash.json");
  const auto labels = json::parse(object)["metadata"]["labels"];
  REQUIRE(labels.contains("training.kubeflow.org/job-name"));
  const std::string current = labels["training.kubeflow.org/job-name"];
  auto same = apply_entries(object, {label(pod_meta, "training.kubeflow.org/job-name", current)});
  CHECK(same.patch.empty());
  auto changed =
      apply_entries(object, {label(pod_meta, "training.kubeflow.org/job-name", "other")});
  REQUIRE(changed.ops.size() == 1);
  CHECK(changed.ops[0] ==
        json::parse(R"({"op":"replace",)"
                    R"("path":"/metadata/labels/training.kubeflow.org~1job-name",)"
                    R"("value":"other"})"));
}

TEST_CASE("annotations missing while labels exist: a whole-map add next to a per-key add") {
  const auto object = object_of("pod-create-kubectl-run.json");
  REQUIRE(json::parse(object)["metadata"].count("annotations") == 0);
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "training"),
                                        annotation(pod_meta, "mlnetpol.io/inferred-from", "image"),
                                        annotation(pod_meta, "mlnetpol.io/rule", "gpu")});
  REQUIRE(p.ops.size() == 2);
  CHECK(p.ops[0]["path"] == "/metadata/labels/workload-type");
  CHECK(p.ops[1] ==
        json::parse(R"({"op":"add","path":"/metadata/annotations","value":)"
                    R"({"mlnetpol.io/inferred-from":"image","mlnetpol.io/rule":"gpu"}})"));
}

TEST_CASE("a deployment's pod template labels are patched under spec.template.metadata") {
  const auto object = object_of("deployment-create.json");
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "inference"),
                                        label(template_meta, "workload-type", "inference")});
  REQUIRE(p.ops.size() == 2);
  CHECK(p.ops[0]["path"] == "/metadata/labels/workload-type");
  CHECK(p.ops[1]["path"] == "/spec/template/metadata/labels/workload-type");
  CHECK(p.result["spec"]["template"]["metadata"]["labels"]["app"] == "web");
}

TEST_CASE("a job template without labels gets the template's labels map added") {
  const auto object = object_of("job-create.json");
  const auto tmpl = json::parse(object)["spec"]["template"];
  REQUIRE(tmpl.contains("metadata"));
  REQUIRE(tmpl["metadata"].count("labels") == 0);
  const auto p = apply_entries(object, {label(template_meta, "workload-type", "training")});
  REQUIRE(p.ops.size() == 1);
  CHECK(p.ops[0] == json::parse(R"({"op":"add","path":"/spec/template/metadata/labels",)"
                                R"("value":{"workload-type":"training"}})"));
}

TEST_CASE("a template without metadata gets /spec/template/metadata added whole") {
  json deployment = json::parse(object_of("deployment-create.json"));
  deployment["spec"]["template"].erase("metadata");
  const auto p =
      apply_entries(deployment.dump(), {label(template_meta, "workload-type", "training"),
                                        annotation(template_meta, "mlnetpol.io/managed", "true"),
                                        label(template_meta, "team", "ml")});
  REQUIRE(p.ops.size() == 1);
  CHECK(p.ops[0] == json::parse(R"({"op":"add","path":"/spec/template/metadata","value":)"
                                R"({"labels":{"workload-type":"training","team":"ml"},)"
                                R"("annotations":{"mlnetpol.io/managed":"true"}}})"));
}

TEST_CASE("an object without metadata gets /metadata added whole") {
  const auto p = apply_entries(R"({"kind":"Pod"})", {label(pod_meta, "a", "b")});
  REQUIRE(p.ops.size() == 1);
  CHECK(p.ops[0] == json::parse(R"({"op":"add","path":"/metadata","value":{"labels":{"a":"b"}}})"));
}

TEST_CASE("the same value is no operation; all the same means no patch") {
  const auto object = object_of("pod-create-workload-type-training.json");
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "training")});
  CHECK(p.patch.empty());
  const auto mixed = apply_entries(
      object, {label(pod_meta, "workload-type", "training"), label(pod_meta, "team", "ml")});
  REQUIRE(mixed.ops.size() == 1);
  CHECK(mixed.ops[0]["path"] == "/metadata/labels/team");
}

TEST_CASE("a different value is replaced") {
  const auto object = object_of("pod-create-workload-type-training.json");
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "inference")});
  REQUIRE(p.ops.size() == 1);
  CHECK(p.ops[0] == json::parse(R"({"op":"replace","path":"/metadata/labels/workload-type",)"
                                R"("value":"inference"})"));
}

TEST_CASE("a non-string value under the key is replaced by the string") {
  const auto p = apply_entries(R"({"metadata":{"labels":{"a":1,"b":{"x":1}}}})",
                               {label(pod_meta, "a", "1"), label(pod_meta, "b", "2")});
  REQUIRE(p.ops.size() == 2);
  CHECK(p.ops[0]["op"] == "replace");
  CHECK(p.ops[1]["op"] == "replace");
}

TEST_CASE("null maps and null path steps are replaced by an add") {
  const auto labels_null =
      apply_entries(R"({"metadata":{"name":"x","labels":null}})", {label(pod_meta, "a", "b")});
  REQUIRE(labels_null.ops.size() == 1);
  CHECK(labels_null.ops[0]["path"] == "/metadata/labels");
  const auto metadata_null =
      apply_entries(R"({"spec":{"template":{"metadata":null}}})", {label(template_meta, "a", "b")});
  REQUIRE(metadata_null.ops.size() == 1);
  CHECK(metadata_null.ops[0]["path"] == "/spec/template/metadata");
}

TEST_CASE("later entries for the same key win") {
  const auto object = object_of("pod-create-workload-type-training.json");
  const auto p = apply_entries(object, {label(pod_meta, "workload-type", "inference"),
                                        label(pod_meta, "workload-type", "training")});
  CHECK(p.patch.empty());
  const auto missing =
      apply_entries(R"({"metadata":{}})", {label(pod_meta, "a", "1"), label(pod_meta, "a", "2")});
  REQUIRE(missing.ops.size() == 1);
  CHECK(missing.ops[0]["value"] == json({{"a", "2"}}));
}

TEST_CASE("an empty metadata path puts the map at the root") {
  const auto p = apply_entries(R"({"labels":{"x":"y"}})", {map_entry{{}, "labels", "a", "b"},
                                                           map_entry{{}, "notes", "c", "d"}});
  REQUIRE(p.ops.size() == 2);
  CHECK(p.ops[0]["path"] == "/labels/a");
  CHECK(p.ops[1]["path"] == "/notes");
}

TEST_CASE("no entries means no patch") {
  rapidjson::Document object;
  REQUIRE(mlnetpol::json::parse(object, object_of("pod-create-no-labels.json")).has_value());
  auto built = patch_for_entries(object, {});
  REQUIRE(built.has_value());
  CHECK(built->empty());
}

TEST_CASE("a non-object where an object is needed is an error, not a crash") {
  CHECK(error_of(R"({"spec":{"template":"oops"}})", {label(template_meta, "a", "b")}) ==
        "/spec/template is a string, not an object");
  CHECK(error_of(R"({"metadata":{"labels":["a"]}})", {label(pod_meta, "a", "b")}) ==
        "/metadata/labels is an array, not an object");
  CHECK(error_of(R"({"metadata":7})", {label(pod_meta, "a", "b")}) ==
        "/metadata is a number, not an object");
  CHECK(error_of(R"({"spec":{"template~/":true}})", {label({"spec", "template~/"}, "a", "b")}) ==
        "/spec/template~0~1 is a boolean, not an object");
  CHECK(error_of(R"([1])", {label(pod_meta, "a", "b")}) ==
        "the admitted object is an array, not an object");
  CHECK(error_of("null", {label(pod_meta, "a", "b")}) ==
        "the admitted object is null, not an object");
}

TEST_CASE("entries that need one path to be both a value and a map are an error") {
  CHECK(error_of(R"({})",
                 {label(pod_meta, "x", "1"), label({"metadata", "labels", "x"}, "y", "2")}) ==
        "conflicting entries: /metadata/labels/x is both a value and a map");
  CHECK(error_of(R"({})",
                 {label({"metadata", "labels", "x"}, "y", "2"), label(pod_meta, "x", "1")}) ==
        "conflicting entries: /metadata/labels/x is both a value and a map");
}

TEST_CASE("patches for every fixture object apply cleanly") {
  REQUIRE(mlnetpol::admission::testing::review_fixtures().size() >= 16);  // else nothing is checked
  for (const auto& path : mlnetpol::admission::testing::review_fixtures()) {
    CAPTURE(path.filename().string());
    const json request = json::parse(mlnetpol::admission::testing::read_file(path))["request"];
    if (request["object"].is_null()) continue;
    std::vector<map_entry> entries = {label(pod_meta, "workload-type", "training"),
                                      annotation(pod_meta, "mlnetpol.io/checked", "yes")};
    if (request["object"].contains("spec") && request["object"]["spec"].contains("template")) {
      entries.push_back(label(template_meta, "workload-type", "training"));
    }
    apply_entries(request["object"].dump(), entries);
  }
}

namespace {

// The document after apply_patch, as nlohmann JSON; fails the test when the patch does not apply.
json applied(const std::string& object_text, const std::string& patch) {
  rapidjson::Document document;
  REQUIRE(mlnetpol::json::parse(document, object_text).has_value());
  const auto done = mlnetpol::admission::apply_patch(document, patch);
  REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().message));
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> writer(text);
  document.Accept(writer);
  return json::parse(text.GetString());
}

std::string apply_error(const std::string& object_text, const std::string& patch) {
  rapidjson::Document document;
  REQUIRE(mlnetpol::json::parse(document, object_text).has_value());
  const auto done = mlnetpol::admission::apply_patch(document, patch);
  REQUIRE_FALSE(done.has_value());
  return done.error().message;
}

}  // namespace

TEST_CASE("apply_patch agrees with nlohmann's RFC 6902 on add, replace and remove") {
  const std::string object =
      R"({"metadata":{"name":"p","labels":{"a/b":"1","c~d":"2"},"x":null},"list":[1,2,3]})";
  const std::vector<std::string> patches = {
      R"([{"op":"add","path":"/metadata/labels/e","value":"3"}])",
      R"([{"op":"add","path":"/metadata/labels/a~1b","value":"replaced by add"}])",
      R"([{"op":"replace","path":"/metadata/labels/c~0d","value":{"deep":[true]}}])",
      R"([{"op":"remove","path":"/metadata/labels/a~1b"}])",
      R"([{"op":"add","path":"/metadata/x","value":{"k":"v"}}])",
      R"([{"op":"add","path":"/list/0","value":0},{"op":"add","path":"/list/-","value":4}])",
      R"([{"op":"add","path":"/list/3","value":"end"},{"op":"remove","path":"/list/1"}])",
      R"([{"op":"replace","path":"/list/2","value":[]},{"op":"add","path":"","value":{"n":1}}])",
      R"([{"op":"add","path":"/","value":"empty key"}])",
  };
  for (const auto& patch : patches) {
    CAPTURE(patch);
    CHECK(applied(object, patch) == json::parse(object).patch(json::parse(patch)));
  }
}

TEST_CASE("apply_patch applies every built patch as nlohmann does") {
  REQUIRE(mlnetpol::admission::testing::review_fixtures().size() >= 16);
  for (const auto& path : mlnetpol::admission::testing::review_fixtures()) {
    CAPTURE(path.filename().string());
    const json request = json::parse(mlnetpol::admission::testing::read_file(path))["request"];
    if (!request["object"].is_object()) continue;
    const std::vector<map_entry> entries = {label(pod_meta, "workload-type", "training"),
                                            label(template_meta, "workload-type", "training"),
                                            annotation(template_meta, "a~b/c", "yes")};
    const auto p = apply_entries(request["object"].dump(), entries);
    if (p.patch.empty()) continue;
    CHECK(applied(request["object"].dump(), p.patch) == p.result);
  }
}

TEST_CASE("apply_patch names what does not apply") {
  const std::string object = R"({"a":{"b":"c"},"l":[1]})";
  CHECK(apply_error(object, R"([{"op":"replace","path":"/a/x","value":1}])") ==
        "/a/x does not exist");
  CHECK(apply_error(object, R"([{"op":"remove","path":"/l/1"}])") == "/l/1 does not exist");
  CHECK(apply_error(object, R"([{"op":"add","path":"/l/01","value":1}])") ==
        "/l/01 does not exist");
  CHECK(apply_error(object, R"([{"op":"add","path":"/x/y","value":1}])") ==
        "/x/y does not resolve");
  CHECK(apply_error(object, R"([{"op":"add","path":"/a/b/c","value":1}])") ==
        "/a/b/c does not resolve");
  CHECK(apply_error(object, R"([{"op":"move","from":"/a","path":"/b"}])") == "unsupported op move");
  CHECK(apply_error(object, R"([{"op":"add","path":"/a/~2"}])") == "add /a/~2 has no value");
  CHECK(apply_error(object, R"([{"op":"add","path":"/a/~2","value":1}])") ==
        "JSON Pointer /a/~2 has a bad ~ escape");
  CHECK(apply_error(object, R"([{"op":"add","path":"a","value":1}])") ==
        "JSON Pointer a does not start with /");
  CHECK(apply_error(object, R"({"op":"add"})") == "a patch is a JSON array");
  CHECK(apply_error(object, R"([1])") == "a patch operation is not an object");
  CHECK(apply_error(object, "[").rfind("invalid patch: ", 0) == 0);
}

TEST_CASE("apply_patch tests values (a release that must not touch another's entry)") {
  const std::string object = R"({"spec":{"gates":[{"name":"a"},{"name":"b"}]}})";
  CHECK(applied(object, R"([{"op":"test","path":"/spec/gates/1","value":{"name":"b"}},
                            {"op":"remove","path":"/spec/gates/1"}])") ==
        json::parse(R"({"spec":{"gates":[{"name":"a"}]}})"));
  CHECK(apply_error(object, R"([{"op":"test","path":"/spec/gates/0","value":{"name":"b"}}])") ==
        "test /spec/gates/0 failed");
  CHECK(apply_error(object, R"([{"op":"test","path":"/spec/gates/2","value":{"name":"b"}}])") ==
        "test /spec/gates/2 failed");
  CHECK(apply_error(object, R"([{"op":"test","path":"/spec/x/y","value":1}])") ==
        "test /spec/x/y failed");
  CHECK(apply_error(object, R"([{"op":"test","path":"/spec"}])") == "test /spec has no value");
}

TEST_CASE("apply_patch on a value inside a document uses the document's allocator") {
  rapidjson::Document review;
  review.Parse(R"({"request":{"object":{"metadata":{"labels":{"a":"1"}}}}})");
  auto& object = review["request"]["object"];
  const auto done = mlnetpol::admission::apply_patch(
      object, R"([{"op":"add","path":"/metadata/labels/b","value":"2"},
                  {"op":"replace","path":"","value":{"kind":"Pod"}}])",
      review.GetAllocator());
  REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().message));
  CHECK(review["request"]["object"]["kind"] == "Pod");
  CHECK(review["request"].MemberCount() == 1);
}

// The pointer buffer is the thread's (kept across patches); one written for a long key is let go,
// and the next patch starts from an empty pointer either way.
TEST_CASE("patches in a row on one thread: a long key's pointer does not leak into the next") {
  const std::string long_key(6000, 'k');
  const auto first =
      apply_entries(R"({"metadata":{"labels":{}}})", {label(pod_meta, long_key, "v")});
  REQUIRE(first.ops.size() == 1);
  CHECK(first.ops[0]["path"] == "/metadata/labels/" + long_key);
  const auto second = apply_entries(R"({"metadata":{"labels":{}}})", {label(pod_meta, "a", "b")});
  REQUIRE(second.ops.size() == 1);
  CHECK(second.ops[0]["path"] == "/metadata/labels/a");
  // Maps several levels apart: each operation's pointer is its own path, not the one before's.
  const auto nested = apply_entries(R"({"spec":{"template":{"metadata":{"labels":{}}}}})",
                                    {label(template_meta, "x", "1"), label(pod_meta, "y", "2"),
                                     annotation(template_meta, "z", "3")});
  REQUIRE(nested.ops.size() == 3);
  CHECK(nested.ops[0]["path"] == "/spec/template/metadata/labels/x");
  CHECK(nested.ops[1]["path"] == "/spec/template/metadata/annotations");
  CHECK(nested.ops[2]["path"] == "/metadata");
}
