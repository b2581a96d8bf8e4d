#include "admission/codec.hpp"

#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "admission/review_document.hpp"
#include "common/base64.hpp"
#include "tests/admission/test_support.hpp"

namespace {

using mlnetpol::base64_decode;
using mlnetpol::admission::admission_v1;
using mlnetpol::admission::admission_v1beta1;
using mlnetpol::admission::decode_review;
using mlnetpol::admission::encode_error;
using mlnetpol::admission::encode_response;
using mlnetpol::admission::review_response;
using mlnetpol::admission::status_reason;
using mlnetpol::admission::testing::as_nlohmann;
using mlnetpol::admission::testing::fixture;
using mlnetpol::admission::testing::kept_object;
using mlnetpol::admission::testing::read_file;
using mlnetpol::admission::testing::review_fixtures;
using nlohmann::json;

std::string string_or_empty(const json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

}  // namespace

TEST_CASE("every captured AdmissionReview decodes with every field a decision reads") {
  const auto files = review_fixtures();
  REQUIRE(files.size() >= 16);
  for (const auto& path : files) {
    CAPTURE(path.filename().string());
    const std::string body = read_file(path);
    const json want = json::parse(body)["request"];
    auto decoded = decode_review(body);
    REQUIRE_MESSAGE(decoded.has_value(), (decoded ? "" : decoded.error().message));
    const auto& r = *decoded;
    CHECK(r.api_version == admission_v1);
    CHECK(r.uid == want["uid"].get<std::string>());
    CHECK(r.kind.group == want["kind"]["group"].get<std::string>());
    CHECK(r.kind.version == want["kind"]["version"].get<std::string>());
    CHECK(r.kind.kind == want["kind"]["kind"].get<std::string>());
    CHECK(r.resource == want["resource"]["resource"].get<std::string>());
    CHECK(r.sub_resource == string_or_empty(want, "subResource"));
    CHECK(r.operation == want["operation"].get<std::string>());
    CHECK(r.namespace_name == string_or_empty(want, "namespace"));
    CHECK(r.name == string_or_empty(want, "name"));
    CHECK(r.user.username == want["userInfo"]["username"].get<std::string>());
    CHECK(r.user.groups == want["userInfo"]["groups"].get<std::vector<std::string>>());
    CHECK(r.dry_run == want.value("dryRun", false));
    REQUIRE(r.document != nullptr);
    CHECK((r.object == nullptr) == want["object"].is_null());
    CHECK((r.old_object == nullptr) ==
          (!want.contains("oldObject") || want["oldObject"].is_null()));
    if (r.object != nullptr) CHECK(as_nlohmann(*r.object) == kept_object(want["object"]));
    if (r.old_object != nullptr) {
      CHECK(as_nlohmann(*r.old_object) == kept_object(want["oldObject"]));
    }
  }
}

TEST_CASE("decoded fixtures carry what the captures say") {
  auto del = decode_review(fixture("pod-delete.json"));
  REQUIRE(del.has_value());
  CHECK(del->operation == "DELETE");
  CHECK(del->object == nullptr);
  REQUIRE(del->old_object != nullptr);
  CHECK(std::string((*del->old_object)["metadata"]["name"].GetString()) == "nginx");

  auto create = decode_review(fixture("namespace-create-plain.json"));
  REQUIRE(create.has_value());
  CHECK(create->operation == "CREATE");
  CHECK(create->kind.kind == "Namespace");
  CHECK(create->namespace_name == "team-a");
  CHECK(create->name == "team-a");
  CHECK(create->object != nullptr);
  CHECK(create->old_object == nullptr);

  auto generated = decode_review(fixture("pod-create-generatename.json"));
  REQUIRE(generated.has_value());
  CHECK(generated->name.empty());
  CHECK(generated->uid == "bf97aaf8-2b9d-4f94-90c0-13879c987d60");

  auto update = decode_review(fixture("networkpolicy-update.json"));
  REQUIRE(update.has_value());
  CHECK(update->operation == "UPDATE");
  CHECK(update->kind.group == "networking.k8s.io");
  CHECK(update->resource == "networkpolicies");
  CHECK(update->object != nullptr);
  CHECK(update->old_object != nullptr);
  CHECK(update->user.groups == std::vector<std::string>{"system:masters", "system:authenticated"});
}

TEST_CASE("the decoded request keeps the document alive on its own") {
  mlnetpol::admission::review_request copy;
  {
    auto decoded = decode_review(fixture("pod-create-no-labels.json"));
    REQUIRE(decoded.has_value());
    copy = *decoded;
  }
  REQUIRE(copy.object != nullptr);
  CHECK(std::string((*copy.object)["metadata"]["name"].GetString()) == "bare");
}

TEST_CASE("only what decisions read is kept, by place: a label named spec or status stays") {
  const std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","extra":[1],"request":{"uid":"u",)"
      R"("kind":{"group":"batch","version":"v1","kind":"CronJob"},"resource":{"resource":"cronjobs"},)"
      R"("operation":"CREATE","status":{"dropped":true},"userInfo":{"username":"a","extra":{"k":["v"]}},)"
      R"("object":{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"n","labels":)"
      R"({"status":"a","managedFields":"b","spec":"c"},"managedFields":[{}],"uid":"x"},)"
      R"("spec":{"hostNetwork":true,"volumes":[],"schedule":"* * * * *","jobTemplate":{"metadata":{},)"
      R"("spec":{"template":{"metadata":{"labels":{"l":"v"}},"spec":{"containers":[],"hostNetwork":false}}}},)"
      R"("pytorchReplicaSpecs":{"Master":{"replicas":1,"template":{"spec":{"hostNetwork":true}}}}},)"
      R"("status":{"phase":"Pending"},"data":{"status":"x"}}}})";
  auto decoded = decode_review(body);
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->object != nullptr);
  CHECK(as_nlohmann(*decoded->object) ==
        json::parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"n","labels":)"
                    R"({"status":"a","managedFields":"b","spec":"c"}},"spec":{"hostNetwork":true,)"
                    R"("jobTemplate":{"spec":{"template":{"metadata":{"labels":{"l":"v"}},)"
                    R"("spec":{"hostNetwork":false}}}},"pytorchReplicaSpecs":{"Master":)"
                    R"({"template":{"spec":{"hostNetwork":true}}}}}})"));
  const json document = as_nlohmann(*decoded->document);
  CHECK_FALSE(document.contains("extra"));
  CHECK_FALSE(document["request"].contains("status"));
  CHECK(document["request"]["userInfo"]["extra"] == json::parse(R"({"k":["v"]})"));
  CHECK(decoded->user.username == "a");
}

TEST_CASE("a padded body is read in place and decodes as an unpadded one") {
  const std::string body = fixture("pod-create-no-labels.json");
  std::string padded = body;
  padded.append(mlnetpol::admission::review_body_padding, 'x');  // must not be read as JSON
  auto plain = decode_review(body);
  auto in_place = decode_review(std::string_view(padded.data(), body.size()),
                                mlnetpol::admission::review_body_padding);
  REQUIRE(plain.has_value());
  REQUIRE(in_place.has_value());
  CHECK(as_nlohmann(*in_place->document) == as_nlohmann(*plain->document));
}

TEST_CASE("JSON that only RapidJSON accepts still decodes (a lone surrogate escape)") {
  // simdjson refuses "\udc00"; the RapidJSON parse that follows keeps the old behaviour.
  const std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"resource":"pods"},)"
      R"("operation":"CREATE","object":{"metadata":{"annotations":{"a":"\udc00"}}}}})";
  auto decoded = decode_review(body);
  REQUIRE_MESSAGE(decoded.has_value(), (decoded ? "" : decoded.error().message));
  CHECK(decoded->uid == "u");
  REQUIRE(decoded->object != nullptr);
  CHECK((*decoded->object)["metadata"]["annotations"]["a"].GetStringLength() == 3);
}

TEST_CASE("optional request fields are decoded when present") {
  json review = json::parse(fixture("pod-create-kubectl-run.json"));
  review["apiVersion"] = admission_v1beta1;
  review["request"]["dryRun"] = true;
  review["request"]["subResource"] = "status";
  auto decoded = decode_review(review.dump());
  REQUIRE(decoded.has_value());
  CHECK(decoded->api_version == admission_v1beta1);
  CHECK(decoded->dry_run);
  CHECK(decoded->sub_resource == "status");

  review["request"].erase("userInfo");
  review["request"].erase("namespace");
  review["request"]["dryRun"] = nullptr;
  review["request"].erase("oldObject");
  decoded = decode_review(review.dump());
  REQUIRE(decoded.has_value());
  CHECK(decoded->user.username.empty());
  CHECK(decoded->namespace_name.empty());
  CHECK_FALSE(decoded->dry_run);
  CHECK(decoded->old_object == nullptr);
}

TEST_CASE("decode errors say what is wrong and carry the uid and apiVersion when known") {
  const json good = json::parse(fixture("pod-create-kubectl-run.json"));
  const std::string uid = good["request"]["uid"];
  struct error_case {
    const char* name;
    json body;
    std::string uid;
    std::string_view api_version;
    std::string message;
  };
  auto with = [&](auto change) {
    json copy = good;
    change(copy);
    return copy;
  };
  const std::vector<error_case> cases = {
      {"not an object", json::array({1}), "", "",
       "not an AdmissionReview: the body is an array, not a JSON object"},
      {"no apiVersion", with([](json& j) { j.erase("apiVersion"); }), uid, "",
       "not an AdmissionReview: apiVersion is missing"},
      {"apiVersion not a string", with([](json& j) { j["apiVersion"] = 1; }), uid, "",
       "not an AdmissionReview: apiVersion must be a string, got a number"},
      {"wrong apiVersion", with([](json& j) { j["apiVersion"] = "v1"; }), uid, "",
       "not an AdmissionReview: unsupported apiVersion \"v1\" (want admission.k8s.io/v1 or "
       "admission.k8s.io/v1beta1)"},
      {"no kind", with([](json& j) { j.erase("kind"); }), uid, admission_v1,
       "not an AdmissionReview: kind is missing"},
      {"wrong kind", with([](json& j) { j["kind"] = "Pod"; }), uid, admission_v1,
       "not an AdmissionReview: kind is \"Pod\""},
      {"kind not a string", with([](json& j) { j["kind"] = json::object(); }), uid, admission_v1,
       "not an AdmissionReview: kind must be a string, got an object"},
      {"no request", with([](json& j) { j.erase("request"); }), "", admission_v1,
       "AdmissionReview has no request"},
      {"null request", with([](json& j) { j["request"] = nullptr; }), "", admission_v1,
       "AdmissionReview has no request"},
      {"request not an object", with([](json& j) { j["request"] = "x"; }), "", admission_v1,
       "request must be an object, got a string"},
      {"no uid", with([](json& j) { j["request"].erase("uid"); }), "", admission_v1,
       "request.uid is missing"},
      {"empty uid", with([](json& j) { j["request"]["uid"] = ""; }), "", admission_v1,
       "request.uid must be a non-empty string"},
      {"uid not a string", with([](json& j) { j["request"]["uid"] = 42; }), "", admission_v1,
       "request.uid must be a non-empty string, got a number"},
      {"no request.kind", with([](json& j) { j["request"].erase("kind"); }), uid, admission_v1,
       "request.kind is missing"},
      {"request.kind not an object", with([](json& j) { j["request"]["kind"] = "Pod"; }), uid,
       admission_v1, "request.kind must be an object, got a string"},
      {"request.kind.kind empty", with([](json& j) { j["request"]["kind"]["kind"] = ""; }), uid,
       admission_v1, "request.kind.kind must be a non-empty string"},
      {"request.kind.group wrong type", with([](json& j) { j["request"]["kind"]["group"] = 1; }),
       uid, admission_v1, "request.kind.group must be a string, got a number"},
      {"no resource", with([](json& j) { j["request"].erase("resource"); }), uid, admission_v1,
       "request.resource is missing"},
      {"resource.resource wrong type",
       with([](json& j) { j["request"]["resource"]["resource"] = true; }), uid, admission_v1,
       "request.resource.resource must be a string, got a boolean"},
      {"no operation", with([](json& j) { j["request"].erase("operation"); }), uid, admission_v1,
       "request.operation is missing"},
      {"unknown operation", with([](json& j) { j["request"]["operation"] = "PATCH"; }), uid,
       admission_v1, "request.operation \"PATCH\" is not one of CREATE, UPDATE, DELETE, CONNECT"},
      {"operation wrong type", with([](json& j) { j["request"]["operation"] = 1; }), uid,
       admission_v1, "request.operation must be a string, got a number"},
      {"namespace wrong type", with([](json& j) { j["request"]["namespace"] = 1; }), uid,
       admission_v1, "request.namespace must be a string, got a number"},
      {"name wrong type", with([](json& j) { j["request"]["name"] = json::array(); }), uid,
       admission_v1, "request.name must be a string, got an array"},
      {"subResource wrong type", with([](json& j) { j["request"]["subResource"] = 1; }), uid,
       admission_v1, "request.subResource must be a string, got a number"},
      {"userInfo wrong type", with([](json& j) { j["request"]["userInfo"] = "admin"; }), uid,
       admission_v1, "request.userInfo must be an object, got a string"},
      {"username wrong type", with([](json& j) { j["request"]["userInfo"]["username"] = 1; }), uid,
       admission_v1, "request.userInfo.username must be a string, got a number"},
      {"groups wrong type", with([](json& j) { j["request"]["userInfo"]["groups"] = "a"; }), uid,
       admission_v1, "request.userInfo.groups must be an array of strings, got a string"},
      {"group wrong type", with([](json& j) { j["request"]["userInfo"]["groups"] = {1}; }), uid,
       admission_v1, "request.userInfo.groups[] must be a string, got a number"},
      {"dryRun wrong type", with([](json& j) { j["request"]["dryRun"] = "yes"; }), uid,
       admission_v1, "request.dryRun must be a boolean, got a string"},
      {"object wrong type", with([](json& j) { j["request"]["object"] = json::array(); }), uid,
       admission_v1, "request.object must be an object or null, got an array"},
      {"oldObject wrong type", with([](json& j) { j["request"]["oldObject"] = 3; }), uid,
       admission_v1, "request.oldObject must be an object or null, got a number"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto decoded = decode_review(c.body.dump());
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message == c.message);
    CHECK(decoded.error().uid == c.uid);
    CHECK(decoded.error().api_version == c.api_version);
  }
}

TEST_CASE("bodies that are not JSON fail with the parse position") {
  auto empty = decode_review("");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().message == "empty request body");

  auto truncated = decode_review(R"({"apiVersion":"admission.k8s.io/v1","kind":)");
  REQUIRE_FALSE(truncated.has_value());
  CHECK(truncated.error().message == "invalid JSON at offset 43: Invalid value.");
  CHECK(truncated.error().uid.empty());

  auto deep = decode_review(std::string(1'000'000, '['));
  REQUIRE_FALSE(deep.has_value());
  CHECK(deep.error().message == "JSON nesting deeper than 256 at offset 256");
}

TEST_CASE("invalid UTF-8 is rejected, and never echoed back") {
  std::string body = fixture("pod-create-kubectl-run.json");
  const auto at = body.find("nginx");
  REQUIRE(at != std::string::npos);
  body[at] = '\xff';
  auto raw = decode_review(body);
  REQUIRE_FALSE(raw.has_value());
  CHECK(raw.error().message == "invalid UTF-8 at offset " + std::to_string(at));

  // A lone surrogate escape is valid JSON text but decodes to bytes that are not UTF-8.
  json review = json::parse(fixture("pod-create-kubectl-run.json"));
  std::string text = review.dump();
  const std::string uid = review["request"]["uid"];
  text.replace(text.find(uid), uid.size(), "abc\\udc00");
  auto escaped_uid = decode_review(text);
  REQUIRE_FALSE(escaped_uid.has_value());
  CHECK(escaped_uid.error().message == "request.uid is not valid UTF-8");
  CHECK(escaped_uid.error().uid.empty());

  review["kind"] = "Pod";
  text = review.dump();
  text.replace(text.find("\"Pod\""), 5, "\"x\\udc00\"");
  auto escaped_kind = decode_review(text);
  REQUIRE_FALSE(escaped_kind.has_value());
  CHECK(escaped_kind.error().message == "not an AdmissionReview: kind is \"x???\"");
}

TEST_CASE("long or odd values are cut in error messages") {
  json review = json::parse(fixture("pod-create-kubectl-run.json"));
  review["kind"] = std::string(60, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9" + std::string(100, 'y');
  auto decoded = decode_review(review.dump());
  REQUIRE_FALSE(decoded.has_value());
  // 60 ASCII bytes then a two-byte character straddling the 64-byte cut: cut before it.
  CHECK(decoded.error().message ==
        "not an AdmissionReview: kind is \"" + std::string(60, 'x') + "\xc3\xa9\xc3\xa9...\"");
}

TEST_CASE("encode_response: allowed without extras is minimal") {
  review_response response;
  const auto body = encode_response(admission_v1, "uid-1", response);
  CHECK(
      body ==
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"uid-1","allowed":true}})");
}

TEST_CASE("encode_response answers in the given apiVersion, v1 for anything unknown") {
  review_response response;
  CHECK(json::parse(encode_response(admission_v1beta1, "u", response))["apiVersion"] ==
        "admission.k8s.io/v1beta1");
  CHECK(json::parse(encode_response("bogus", "u", response))["apiVersion"] ==
        "admission.k8s.io/v1");
}

TEST_CASE("encode_response: a denial without a code is 403 Forbidden") {
  review_response response;
  response.allowed = false;
  response.message = "workload-type \"gpu\" is not allowed";
  const json body = json::parse(encode_response(admission_v1, "u", response));
  CHECK(body["response"]["allowed"] == false);
  CHECK(body["response"]["status"] ==
        json({{"code", 403}, {"reason", "Forbidden"}, {"message", response.message}}));
  CHECK_FALSE(body["response"].contains("patch"));
}

TEST_CASE("encode_response: the handler's code and reason are kept; reason derived otherwise") {
  review_response response;
  response.allowed = false;
  response.code = 422;
  CHECK(json::parse(encode_response(admission_v1, "u", response))["response"]["status"] ==
        json({{"code", 422}, {"reason", "Invalid"}}));
  response.reason = "PolicyViolation";
  CHECK(json::parse(encode_response(admission_v1, "u", response))["response"]["status"]["reason"] ==
        "PolicyViolation");
  review_response allowed_with_message;
  allowed_with_message.message = "exempt namespace";
  CHECK(
      json::parse(encode_response(admission_v1, "u", allowed_with_message))["response"]["status"] ==
      json({{"message", "exempt namespace"}}));
}

TEST_CASE("encode_response: patch, warnings and audit annotations") {
  review_response response;
  response.patch =
      R"([{"op":"add","path":"/metadata/labels","value":{"workload-type":"training"}}])";
  response.warnings = {"first \"quoted\" warning", "second\nline"};
  response.audit_annotations = {{"mlnetpol.io/decision", "patched"}, {"mlnetpol.io/rule", "a\tb"}};
  const std::string text = encode_response(admission_v1, "u-2", response);
  const json body = json::parse(text);
  const json& r = body["response"];
  CHECK(r["uid"] == "u-2");
  CHECK(r["allowed"] == true);
  CHECK_FALSE(r.contains("status"));
  CHECK(r["patchType"] == "JSONPatch");
  const auto decoded = base64_decode(r["patch"].get<std::string>());
  REQUIRE(decoded.has_value());
  CHECK(*decoded == response.patch);
  CHECK(r["warnings"] == json({"first \"quoted\" warning", "second\nline"}));
  CHECK(r["auditAnnotations"] ==
        json({{"mlnetpol.io/decision", "patched"}, {"mlnetpol.io/rule", "a\tb"}}));
  CHECK(text.find("\"patch\":\"W3si") != std::string::npos);  // written raw, no escaping
}

TEST_CASE("encode_error is a 400 AdmissionReview by default") {
  const json body = json::parse(encode_error(admission_v1beta1, "u-3", "request.uid is missing"));
  CHECK(body["apiVersion"] == "admission.k8s.io/v1beta1");
  CHECK(body["kind"] == "AdmissionReview");
  CHECK(body["response"] == json::parse(R"({"uid":"u-3","allowed":false,"status":)"
                                        R"({"code":400,"message":"request.uid is missing",)"
                                        R"("reason":"BadRequest"}})"));
  const json unknown = json::parse(encode_error("", "", "x", 413));
  CHECK(unknown["apiVersion"] == "admission.k8s.io/v1");
  CHECK(unknown["response"]["uid"] == "");
  CHECK(unknown["response"]["status"]["reason"] == "RequestEntityTooLarge");
}

TEST_CASE("status_reason follows metav1.StatusReason") {
  CHECK(status_reason(400) == "BadRequest");
  CHECK(status_reason(403) == "Forbidden");
  CHECK(status_reason(415) == "UnsupportedMediaType");
  CHECK(status_reason(500) == "InternalError");
  CHECK(status_reason(200).empty());
}
