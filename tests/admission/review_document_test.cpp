#include "admission/review_document.hpp"

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "admission/codec.hpp"
#include "common/json_parse.hpp"
#include "admission/review.hpp"
#include "policy/template_fields.hpp"
#include "tests/admission/structural_check.hpp"
#include "tests/admission/test_support.hpp"
#include "tests/support/webhook_under_test.hpp"

// The rule (issue 27): a subtree no decision reads gets only the structural checks (whole, valid
// UTF-8, balanced, not too deep, nothing after the root); every value a decision reads is fully
// validated; the decision never depends on a subtree it does not read.

namespace {

namespace policy = mlnetpol::policy;
using mlnetpol::admission::decode_review;
using mlnetpol::admission::parse_review_document;
using mlnetpol::admission::process_review;
using mlnetpol::admission::review_body_padding;
using mlnetpol::admission::testing::as_nlohmann;
using mlnetpol::admission::testing::fixture;
using mlnetpol::admission::testing::kept_review;
using mlnetpol::testing::policy_handlers;
using mlnetpol::admission::testing::read_file;
using mlnetpol::admission::testing::review_fixtures;
using mlnetpol::admission::testing::structurally_whole;
using nlohmann::json;

// RapidJSON's error for body, if it refuses it: the reference the fast path is held to.
std::optional<mlnetpol::error> parse_json(rapidjson::Document& document, std::string_view body) {
  auto parsed = mlnetpol::json::parse(document, body);
  if (parsed) return std::nullopt;
  return parsed.error();
}

// What the fast path keeps, as nlohmann JSON; fails the test when it refuses the body.
json kept_by_fast_path(const std::string& body) {
  const auto fast = parse_review_document(body);
  REQUIRE_MESSAGE(fast != nullptr, "the fast path refused\n" << body);
  return as_nlohmann(fast->document);
}

// For a well-formed body: the fast path keeps exactly the independent rewrite of the rule.
void keeps_what_decisions_read(const std::string& body) {
  rapidjson::Document full;
  const auto error = parse_json(full, body);
  REQUIRE_MESSAGE(!error, error->message);
  CHECK(kept_by_fast_path(body) == kept_review(as_nlohmann(full)));
}

// A refused body: no fast path, and the answer is the RapidJSON parse's message, as before.
void refused_with_rapidjson_message(const std::string& body) {
  CHECK(parse_review_document(body) == nullptr);
  rapidjson::Document full;
  const auto error = parse_json(full, body);
  REQUIRE(error);
  auto decoded = decode_review(body);
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error().message == error->message);
}

// The same for a body that fails the structural checks, which the independent check sees too.
void structurally_refused(const std::string& body) {
  CHECK_FALSE(structurally_whole(body));
  refused_with_rapidjson_message(body);
}

// The pod review, compact, with member "x": <value> inserted before `anchor`: in managedFields
// (`"manager":`), in a container (`"image":`), both read by no decision, or in the labels
// (`"run":`), which are read.
const std::string& pod_review() {
  static const std::string text = json::parse(fixture("pod-create-kubectl-run.json")).dump();
  return text;
}
const char* const managed_fields = "\"manager\":";
const char* const container = "\"image\":";
const char* const labels = "\"run\":";

std::string with_member(std::string_view anchor, std::string_view value) {
  std::string body = pod_review();
  const auto at = body.find(anchor);
  REQUIRE(at != std::string::npos);
  return body.insert(at, "\"x\":" + std::string(value) + ",");
}

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

policy::config ml_config() {
  policy::config cfg;
  cfg.ml_training_namespaces = {"ml-training"};
  return cfg;
}

// Scalars that are not JSON (and JSON that RapidJSON refuses), each balanced and valid UTF-8.
const std::vector<std::string_view> malformed_scalars = {
    "tru",       "nul",         "falsey",  "01",       "1e",       "-",     "1.",
    ".5",        "+1",          "0x10",    "Infinity", "'a'",      "1e400", "\"\\q\"",
    "\"\\u12\"", "\"\\u12g4\"", "0e99999", "-0e400",   "truefalse"};

}  // namespace

TEST_CASE("every captured review takes the fast path and keeps what a decision reads") {
  auto paths = review_fixtures();
  for (const char* name : {"pod-create-training.json", "deployment-create-30k.json"}) {
    paths.push_back(std::filesystem::path(MLNETPOL_SOURCE_DIR) / "bench" / "bodies" / name);
  }
  for (const auto& path : paths) {
    CAPTURE(path.filename().string());
    const std::string body = read_file(path);
    CHECK(structurally_whole(body));
    keeps_what_decisions_read(body);
    // In place (the server's padded buffer) as with a copy.
    std::string padded = body;
    padded.resize(body.size() + review_body_padding, ' ');
    const auto fast =
        parse_review_document(std::string_view(padded.data(), body.size()), review_body_padding);
    REQUIRE(fast != nullptr);
    rapidjson::Document full;
    REQUIRE_FALSE(parse_json(full, body));
    CHECK(as_nlohmann(fast->document) == kept_review(as_nlohmann(full)));
  }
}

TEST_CASE("a malformed scalar where no decision reads gets the clean body's answer and patch") {
  const std::string& pod = pod_review();
  // The clean pod is labelled by /mutate in an ML namespace: the patch is part of what must match.
  policy_handlers handlers(ml_config());
  const auto clean_mutate = process_review(pod, handlers.mutate());
  const auto clean_validate = process_review(pod, handlers.validate());
  REQUIRE(clean_mutate.http_status == 200);
  REQUIRE_FALSE(clean_mutate.patch.empty());
  const json clean_kept = kept_by_fast_path(pod);
  for (const char* site : {managed_fields, container}) {
    std::vector<std::string> values(malformed_scalars.begin(), malformed_scalars.end());
    // Grammar inside an unread subtree is not read either (its brackets are still checked).
    for (const char* grammar : {"[1,]", "{\"a\" 1}", "[1 2]", "{\"a\":}", "{1:2}", "[,1]"}) {
      values.emplace_back(grammar);
    }
    for (const auto& value : values) {
      CAPTURE(site);
      CAPTURE(value);
      const std::string body = with_member(site, value);
      // Before issue 27 this body got a 400 (RapidJSON still refuses it).
      rapidjson::Document full;
      CHECK(parse_json(full, body));
      CHECK(structurally_whole(body));
      CHECK(kept_by_fast_path(body) == clean_kept);
      const auto mutate = process_review(body, handlers.mutate());
      const auto validate = process_review(body, handlers.validate());
      CHECK(mutate.http_status == clean_mutate.http_status);
      CHECK(mutate.body == clean_mutate.body);
      CHECK(mutate.patch == clean_mutate.patch);
      CHECK(validate.http_status == clean_validate.http_status);
      CHECK(validate.body == clean_validate.body);
    }
  }
}

TEST_CASE("a value a decision reads is fully validated: a malformed one gets RapidJSON's 400") {
  for (const auto value : malformed_scalars) {
    CAPTURE(value);
    refused_with_rapidjson_message(with_member(labels, value));  // a label value
  }
  // Grammar inside a read subtree is read: refused too.
  for (const char* grammar : {"[1,]", "{\"a\" 1}", "[1 2]", "{\"a\":}", "{1:2}", "[,1]"}) {
    CAPTURE(grammar);
    const std::string body = with_member(labels, grammar);
    CHECK(parse_review_document(body) == nullptr);
    CHECK_FALSE(decode_review(body).has_value());
  }
  // A read scalar of every shape, exactly as RapidJSON reads it.
  for (const char* value :
       {"true", "false", "null", "0", "12", "-12", "1.5", "1.5e-3", "1E+2", "18446744073709551615",
        "-9223372036854775808", "\"\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
        "\"caf\xc3\xa9\"", "[]", "{}", " [ 1 , { \"a\" : [ true , null ] } ] "}) {
    CAPTURE(value);
    keeps_what_decisions_read(with_member(labels, value));
  }
}

TEST_CASE("structural errors anywhere are refused with RapidJSON's message") {
  const std::string& pod = pod_review();
  const std::vector<std::string> broken = {
      "\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"a\x01\"", "\"a\tb\"", "[}", "{]", "[[]",
      "[1]]", "{\"a\":1}}", "]", "\"unclosed", nested_arrays(300),
      // A backslash outside a string: simdjson's stage 1 would take `\"` for an escaped quote.
      "\\\"", "1\\\""};
  for (const char* site : {managed_fields, container, labels}) {
    for (const auto& value : broken) {
      CAPTURE(site);
      CAPTURE(value.substr(0, 12));
      structurally_refused(with_member(site, value));
    }
  }
  // Truncated anywhere (inside a string, a number, between members), trailing content, nothing.
  for (const std::size_t cut : {pod.size() - 1, pod.size() / 2, pod.find("nginx") + 2,
                                pod.find("3607") + 2, std::size_t{1}}) {
    CAPTURE(cut);
    structurally_refused(pod.substr(0, cut));
  }
  for (const std::string& tail :
       std::vector<std::string>{" x", "{}", "]", "}", std::string(1, '\0'), " 1", "\"\""}) {
    CAPTURE(tail);
    structurally_refused(pod + tail);
  }
  CHECK_FALSE(decode_review("").has_value());
  structurally_refused(" \n");
  // Whitespace after the root is fine.
  keeps_what_decisions_read(pod + " \n\t\r");
}

TEST_CASE("the depth limit holds inside unread subtrees, at exactly RapidJSON's depth") {
  for (const char* site : {managed_fields, container}) {
    CAPTURE(site);
    // The deepest nesting RapidJSON takes at this site; one more is refused by both.
    int deepest = 0;
    for (int n = 200; n < 300; ++n) {
      rapidjson::Document full;
      if (parse_json(full, with_member(site, nested_arrays(n)))) break;
      deepest = n;
    }
    REQUIRE(deepest > 200);
    REQUIRE(deepest < 299);
    keeps_what_decisions_read(with_member(site, nested_arrays(deepest)));
    const std::string too_deep = with_member(site, nested_arrays(deepest + 1));
    structurally_refused(too_deep);
    CHECK(decode_review(too_deep).error().message.rfind("JSON nesting deeper than 256", 0) == 0);
  }
}

TEST_CASE("a root that is no object is named, as before") {
  const std::string& pod = pod_review();
  for (const std::string& text : std::vector<std::string>{"[" + pod + "]", "\"x\"", "12"}) {
    CHECK(parse_review_document(text) == nullptr);
    auto decoded = decode_review(text);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.rfind("not an AdmissionReview: the body is ", 0) == 0);
  }
}

TEST_CASE("kept values: escaped keys, numbers, arrays where objects belong, terminated strings") {
  const std::string& pod = pod_review();
  json review = json::parse(pod);
  review["request"]["object"]["metadata"]["labels"]["n"] = 42;
  review["request"]["object"]["metadata"]["labels"]["m"] = -7;
  review["request"]["object"]["metadata"]["ownerReferences"] = json::array({1, "x", nullptr});
  review["request"]["object"]["spec"]["hostNetwork"] = true;
  std::string body = review.dump();
  keeps_what_decisions_read(body);

  // An escaped key is the key it spells.
  const auto at = body.find("\"metadata\"");
  REQUIRE(at != std::string::npos);
  body.replace(at, 10, "\"meta\\u0064ata\"");
  keeps_what_decisions_read(body);
  CHECK(kept_by_fast_path(body)["request"]["object"]["metadata"]["labels"]["n"] == 42);

  review["request"]["object"]["metadata"]["labels"]["n"] = 1.25;
  keeps_what_decisions_read(review.dump());
  auto decoded = decode_review(review.dump());
  REQUIRE(decoded.has_value());
  CHECK((*decoded->object)["metadata"]["labels"]["n"].GetDouble() == 1.25);
  // Readers may take a kept string as a C string: each is NUL-terminated.
  const auto& name = (*decoded->object)["metadata"]["name"];
  CHECK(std::strlen(name.GetString()) == name.GetStringLength());
  for (const auto& m : (*decoded->object)["metadata"]["labels"].GetObject()) {
    CHECK(std::strlen(m.name.GetString()) == m.name.GetStringLength());
  }
}

TEST_CASE("a TrainJob's spec.labels and spec.annotations are kept, the rest of its spec is not") {
  json review = json::parse(fixture("deployment-create.json"));
  json& object = review["request"]["object"];
  object["spec"] = {{"labels", {{"workload-type", "training"}}},
                    {"annotations", {{"a", "b"}}},
                    {"runtimeRef", {{"name", "torch-distributed"}}},
                    {"trainer", {{"numNodes", 2}}}};
  const std::string body = review.dump();
  keeps_what_decisions_read(body);
  CHECK(kept_by_fast_path(body)["request"]["object"]["spec"] ==
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
  keeps_what_decisions_read(body);
  const json kept = kept_by_fast_path(body)["request"]["object"]["spec"]["template"];
  for (const auto& f : mlnetpol::policy::written_template_fields) {
    CAPTURE(f.name);
    CHECK(kept[std::string(f.parent)][std::string(f.name)] == json{{"k", "v"}});
  }
  CHECK_FALSE(kept["spec"].contains("containers"));
}

TEST_CASE("one byte changed: the fast path takes only whole bodies, and reads them right") {
  const std::string& pod = pod_review();
  // Every third position of a real review, each byte that changes what JSON means there: what
  // the fast path takes is structurally whole (the independent check), and when RapidJSON reads
  // it too, the fast path keeps exactly the rule's part of it; a body that is not whole is
  // refused with RapidJSON's message. review_handlers_fuzz checks the rest.
  std::string bytes = "{}[],:\"\\0t- e.\x01\xff";
  bytes += '\0';
  std::size_t fast = 0;
  std::size_t tried = 0;
  auto check = [&](const std::string& body) {
    ++tried;
    const auto taken = parse_review_document(body);
    rapidjson::Document full;
    const auto error = parse_json(full, body);
    if (!structurally_whole(body)) {
      CHECK_MESSAGE(taken == nullptr, body);
      REQUIRE(error);
      return;
    }
    if (taken == nullptr) return;
    ++fast;
    if (!error) CHECK(as_nlohmann(taken->document) == kept_review(as_nlohmann(full)));
  };
  for (std::size_t at = 0; at < pod.size(); at += 3) {
    for (const char b : bytes) {
      std::string replaced = pod;
      replaced[at] = b;
      check(replaced);
      std::string inserted = pod;
      inserted.insert(at, 1, b);
      check(inserted);
    }
    std::string erased = pod;
    erased.erase(at, 1);
    check(erased);
  }
  MESSAGE(fast << " of " << tried << " variants took the fast path");
  CHECK(fast > 0);
}

TEST_CASE("documents alive at once keep their own strings; a released one is reused") {
  // Strings point into the document's own string buffer: a second parse must not overwrite the
  // first's.
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
    REQUIRE_FALSE(parse_json(full, bodies[i]));
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
  REQUIRE_FALSE(parse_json(full, bodies.front()));
  CHECK(as_nlohmann(again->document) == kept_review(as_nlohmann(full)));
}
