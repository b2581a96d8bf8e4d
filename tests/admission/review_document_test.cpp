#include "admission/review_document.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "admission/codec.hpp"
#include "common/json_parse.hpp"
#include "policy/template_fields.hpp"
#include "tests/admission/test_support.hpp"

namespace {

using mlnetpol::admission::decode_review;
using mlnetpol::admission::parse_review_document;
using mlnetpol::admission::testing::as_nlohmann;
using mlnetpol::admission::testing::fixture;
using mlnetpol::admission::testing::kept_review;
using mlnetpol::admission::testing::read_file;
using mlnetpol::admission::testing::review_fixtures;
using mlnetpol::json::parse;
using nlohmann::json;

// The rule the fast path must keep: what it accepts RapidJSON accepts too, and it keeps exactly
// kept_review of what RapidJSON reads. Returns whether the fast path took the body.
bool agrees_with_rapidjson(const std::string& body) {
  const auto fast = parse_review_document(body);
  rapidjson::Document full;
  const auto parsed = parse(full, body);
  if (fast == nullptr) return false;
  REQUIRE_MESSAGE(parsed.has_value(), "the fast path took a body RapidJSON refuses: "
                                          << (parsed ? "" : parsed.error().message) << "\n"
                                          << body);
  CHECK(as_nlohmann(fast->document) == kept_review(as_nlohmann(full)));
  return true;
}

// A pod review with a member no decision reads, "dropped" next to spec.containers, whose value is
// the JSON text `value`.
std::string with_dropped(std::string_view value) {
  std::string body = fixture("pod-create-kubectl-run.json");
  const std::string anchor = "\"containers\":";
  auto at = body.find(anchor);
  if (at == std::string::npos) {
    body = json::parse(body).dump();
    at = body.find(anchor);
  }
  REQUIRE(at != std::string::npos);
  return body.insert(at, "\"dropped\":" + std::string(value) + ",");
}

}  // namespace

TEST_CASE("every captured review takes the fast path and keeps what a decision reads") {
  for (const auto& path : review_fixtures()) {
    CAPTURE(path.filename().string());
    CHECK(agrees_with_rapidjson(read_file(path)));
  }
}

TEST_CASE("invalid JSON inside a member no decision reads is refused, with RapidJSON's answer") {
  // Each would be skipped by a parser that only looks at what it reads.
  const std::vector<std::string_view> invalid = {
      "tru", "nul", "falsey", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "[1 2]", "{\"a\":}", "{1:2}",
      "\"\\q\"", "\"\\u12\"", "\"\\u12g4\"", "1.", "01", "-", "1e", "1e400", ".5", "+1", "[}", "{]",
      "[[]", "\"a\x01\"", "\"\\ud800\"", "[1]]", "{\"a\":1}}", "0x10", "Infinity", "'a'", "[,1]",
      // Valid JSON that RapidJSON refuses (a zero past its exponent range; the fuzzer found it):
      // its answer stays the answer.
      "0e99999", "-0e400"};
  for (const auto value : invalid) {
    const std::string body = with_dropped(value);
    CAPTURE(value);
    CHECK(parse_review_document(body) == nullptr);
    rapidjson::Document full;
    const auto parsed = parse(full, body);
    auto decoded = decode_review(body);
    if (!parsed) {
      REQUIRE_FALSE(decoded.has_value());
      CHECK(decoded.error().message == parsed.error().message);
    } else {
      // RapidJSON reads a few of them (a lone surrogate escape): its document decides.
      CHECK(decoded.has_value());
    }
  }
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += '[';
  for (int i = 0; i < 300; ++i) deep += ']';
  const std::string body = with_dropped(deep);
  CHECK(parse_review_document(body) == nullptr);
  auto decoded = decode_review(body);
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error().message.rfind("JSON nesting deeper than 256", 0) == 0);
}

TEST_CASE("valid JSON of every shape inside a dropped member takes the fast path") {
  const std::vector<std::string_view> valid = {
      "true", "false", "null", "0", "-0", "12", "-12", "1.5", "1.5e-3", "1E+2", "0.000001", "\"\"",
      "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"", "[]", "{}",
      " [ 1 , { \"a\" : [ true , null ] } ] ", "\"caf\xc3\xa9\"", "{\"a\":{\"b\":{\"c\":[[[]]]}}}",
      // Numbers whose payload word on simdjson's tape starts with the byte 'd' (0x64), the tag of
      // a double: the zero-double scan looks at every word and must not take them for one.
      "7205759403792793600", "[6e173,0,{}]", "[7205759403792793600,0]"};
  for (const auto value : valid) {
    CAPTURE(value);
    CHECK(agrees_with_rapidjson(with_dropped(value)));
  }
  std::string deep;
  for (int i = 0; i < 250; ++i) deep += '[';
  for (int i = 0; i < 250; ++i) deep += ']';
  CHECK(agrees_with_rapidjson(with_dropped(deep)));
}

TEST_CASE("kept values: escaped keys, numbers, arrays where objects belong") {
  json review = json::parse(fixture("pod-create-kubectl-run.json"));
  review["request"]["object"]["metadata"]["labels"]["n"] = 42;
  review["request"]["object"]["metadata"]["labels"]["m"] = -7;
  review["request"]["object"]["metadata"]["ownerReferences"] = json::array({1, "x", nullptr});
  review["request"]["object"]["spec"]["hostNetwork"] = true;
  std::string body = review.dump();
  CHECK(agrees_with_rapidjson(body));

  // An escaped key is the key it spells.
  const auto at = body.find("\"metadata\"");
  REQUIRE(at != std::string::npos);
  body.replace(at, 10, "\"meta\\u0064ata\"");
  CHECK(agrees_with_rapidjson(body));
  const auto fast = parse_review_document(body);
  REQUIRE(fast != nullptr);
  CHECK(as_nlohmann(fast->document)["request"]["object"]["metadata"]["labels"]["n"] == 42);

  review["request"]["object"]["metadata"]["labels"]["n"] = 1.25;
  CHECK(agrees_with_rapidjson(review.dump()));
  auto decoded = decode_review(review.dump());
  REQUIRE(decoded.has_value());
  CHECK((*decoded->object)["metadata"]["labels"]["n"].GetDouble() == 1.25);
}

TEST_CASE("a TrainJob's spec.labels and spec.annotations are kept, the rest of its spec is not") {
  json review = json::parse(fixture("deployment-create.json"));
  json& object = review["request"]["object"];
  object["spec"] = {{"labels", {{"workload-type", "training"}}},
                    {"annotations", {{"a", "b"}}},
                    {"runtimeRef", {{"name", "torch-distributed"}}},
                    {"trainer", {{"numNodes", 2}}}};
  const std::string body = review.dump();
  CHECK(agrees_with_rapidjson(body));
  const auto fast = parse_review_document(body);
  REQUIRE(fast != nullptr);
  CHECK(as_nlohmann(fast->document)["request"]["object"]["spec"] ==
        json{{"labels", {{"workload-type", "training"}}}, {"annotations", {{"a", "b"}}}});
}

TEST_CASE("every field whose change writes a pod template is kept, its containers are not") {
  // The engine decides whether an UPDATE writes a template from these fields alone
  // (policy/template_fields.hpp); the webhook must see each of them.
  json review = json::parse(fixture("deployment-create.json"));
  json& tmpl = review["request"]["object"]["spec"]["template"];
  for (const auto& f : mlnetpol::policy::written_template_fields)
    tmpl[std::string(f.parent)][std::string(f.name)] = json{{"k", "v"}};
  const std::string body = review.dump();
  CHECK(agrees_with_rapidjson(body));
  const auto fast = parse_review_document(body);
  REQUIRE(fast != nullptr);
  const json kept = as_nlohmann(fast->document)["request"]["object"]["spec"]["template"];
  for (const auto& f : mlnetpol::policy::written_template_fields) {
    CAPTURE(f.name);
    CHECK(kept[std::string(f.parent)][std::string(f.name)] == json{{"k", "v"}});
  }
  CHECK_FALSE(kept["spec"].contains("containers"));
}

TEST_CASE("content after the root value is refused; a root that is no object is named") {
  const std::string body = fixture("pod-create-kubectl-run.json");
  for (const std::string& text : {body + " x", body + "{}", body + std::string(1, '\0'),
                                  std::string("{"), std::string("}")}) {
    CAPTURE(text.substr(0, 20));
    CHECK(parse_review_document(text) == nullptr);
    CHECK_FALSE(decode_review(text).has_value());
  }
  CHECK(agrees_with_rapidjson(body + " \n\t\r"));
  for (const std::string& text : {std::string("[") + body + "]", std::string("\"x\"")}) {
    CHECK(agrees_with_rapidjson(text));
    auto decoded = decode_review(text);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.rfind("not an AdmissionReview: the body is ", 0) == 0);
  }
}

TEST_CASE("one byte changed: the fast path never takes what RapidJSON refuses") {
  // Every third position of a real review (each kind of place occurs many times; a sanitizer
  // build runs this too), each byte that changes what JSON means there: what the fast path takes,
  // RapidJSON takes too, with the same kept document. review_handlers_fuzz checks the rest.
  const std::string body = json::parse(fixture("pod-create-kubectl-run.json")).dump();
  std::string bytes = "{}[],:\"\\0t- e.\x01";
  bytes += '\0';
  std::size_t fast = 0;
  std::size_t tried = 0;
  for (std::size_t at = 0; at < body.size(); at += 3) {
    for (const char b : bytes) {
      std::string replaced = body;
      replaced[at] = b;
      std::string inserted = body;
      inserted.insert(at, 1, b);
      fast += agrees_with_rapidjson(replaced) + agrees_with_rapidjson(inserted);
      tried += 2;
    }
    std::string erased = body;
    erased.erase(at, 1);
    fast += agrees_with_rapidjson(erased);
    ++tried;
  }
  MESSAGE(fast << " of " << tried << " variants took the fast path");
  CHECK(fast > 0);
}

TEST_CASE("documents alive at once keep their own strings; a released one is reused") {
  // Strings point into the parser's buffer: a second parse must not overwrite the first's.
  std::vector<std::string> bodies;
  std::vector<std::shared_ptr<mlnetpol::admission::review_document>> held;
  for (const auto& path : review_fixtures()) bodies.push_back(read_file(path));
  REQUIRE(bodies.size() >= 3);
  for (const auto& body : bodies) {
    held.push_back(parse_review_document(body));
    REQUIRE(held.back() != nullptr);
  }
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    rapidjson::Document full;
    REQUIRE(parse(full, bodies[i]).has_value());
    CHECK(as_nlohmann(held[i]->document) == kept_review(as_nlohmann(full)));
  }
  // A document nobody holds any more serves the next parse (its buffers are not allocated again).
  const auto* last = held.back().get();
  held.clear();
  const auto again = parse_review_document(bodies.front());
  CHECK(again.get() == last);
  const auto other = parse_review_document(bodies.back());  // `again` still held: a new one
  CHECK(other.get() != again.get());
  rapidjson::Document full;
  REQUIRE(parse(full, bodies.front()).has_value());
  CHECK(as_nlohmann(again->document) == kept_review(as_nlohmann(full)));
}
