#include "admission/review.hpp"

#include <stdexcept>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "admission/json_patch.hpp"
#include "common/base64.hpp"
#include "tests/admission/test_support.hpp"

namespace {

using mlnetpol::base64_decode;
using mlnetpol::admission::handler;
using mlnetpol::admission::process_review;
using mlnetpol::admission::review_request;
using mlnetpol::admission::review_response;
using mlnetpol::admission::testing::fixture;
using mlnetpol::admission::testing::read_file;
using mlnetpol::admission::testing::review_fixtures;
using nlohmann::json;

class fixed_handler : public handler {
 public:
  explicit fixed_handler(review_response answer) : answer_(std::move(answer)) {}
  review_response handle(const review_request& request) override {
    ++calls;
    last_uid = request.uid;
    last_object_present = request.object != nullptr;
    return answer_;
  }
  int calls = 0;
  std::string last_uid;
  bool last_object_present = false;

 private:
  review_response answer_;
};

// Labels the object like the label engine will: through patch_for_entries on the decoded object.
class labelling_handler : public handler {
 public:
  review_response handle(const review_request& request) override {
    review_response response;
    if (request.object == nullptr) return response;
    const mlnetpol::policy::map_entry label{{"metadata"}, "labels", "workload-type", "training"};
    auto patch = mlnetpol::admission::patch_for_entries(*request.object, {&label, 1});
    if (!patch) {
      response.allowed = false;
      response.message = patch.error().message;
      return response;
    }
    response.patch = *patch;
    return response;
  }
};

class throwing_handler : public handler {
 public:
  review_response handle(const review_request&) override { throw std::runtime_error("boom"); }
};

json response_of(const std::string& body) {
  return json::parse(body)["response"];
}

}  // namespace

TEST_CASE("every fixture gets a 200 response that re-parses with the same uid") {
  REQUIRE(review_fixtures().size() >= 16);  // no fixtures would check nothing
  for (const auto& path : review_fixtures()) {
    CAPTURE(path.filename().string());
    const std::string body = read_file(path);
    const json request = json::parse(body)["request"];
    fixed_handler h(review_response{});
    const auto outcome = process_review(body, h);
    CHECK(h.calls == 1);
    CHECK(h.last_uid == request["uid"].get<std::string>());
    CHECK(h.last_object_present == !request["object"].is_null());
    CHECK(outcome.http_status == 200);
    CHECK(outcome.error.empty());
    CHECK(outcome.decision == "allowed");
    CHECK(outcome.uid == request["uid"].get<std::string>());
    CHECK(outcome.kind == request["kind"]["kind"].get<std::string>());
    CHECK(outcome.operation == request["operation"].get<std::string>());
    CHECK(outcome.namespace_name == request.value("namespace", ""));
    CHECK(outcome.name == request.value("name", ""));
    const json answer = json::parse(outcome.body);
    CHECK(answer["apiVersion"] == "admission.k8s.io/v1");
    CHECK(answer["kind"] == "AdmissionReview");
    CHECK(answer["response"] == json({{"uid", request["uid"]}, {"allowed", true}}));
  }
}

TEST_CASE("a v1beta1 review is answered in v1beta1") {
  json review = json::parse(fixture("pod-create-kubectl-run.json"));
  review["apiVersion"] = "admission.k8s.io/v1beta1";
  fixed_handler h(review_response{});
  const auto outcome = process_review(review.dump(), h);
  CHECK(outcome.http_status == 200);
  const json answer = json::parse(outcome.body);
  CHECK(answer["apiVersion"] == "admission.k8s.io/v1beta1");
  CHECK(answer["response"]["uid"] == review["request"]["uid"]);
}

TEST_CASE("a patch from the handler reaches the API server as base64 JSONPatch that applies") {
  for (const auto& name : {"pod-create-no-labels.json", "pod-create-kubectl-run.json",
                           "pod-create-workload-type-training.json", "deployment-create.json"}) {
    CAPTURE(name);
    const std::string body = fixture(name);
    labelling_handler h;
    const auto outcome = process_review(body, h);
    REQUIRE(outcome.http_status == 200);
    const json r = response_of(outcome.body);
    json object = json::parse(body)["request"]["object"];
    json want = object;
    want["metadata"]["labels"]["workload-type"] = "training";
    if (object["metadata"].contains("labels") &&
        object["metadata"]["labels"].value("workload-type", "") == "training") {
      CHECK(outcome.decision == "allowed");
      CHECK_FALSE(r.contains("patch"));
      continue;
    }
    CHECK(outcome.decision == "patched");
    CHECK(r["patchType"] == "JSONPatch");
    const auto patch = base64_decode(r["patch"].get<std::string>());
    REQUIRE(patch.has_value());
    json patched;
    REQUIRE_NOTHROW(patched = object.patch(json::parse(*patch)));
    CHECK(patched == want);
  }
}

TEST_CASE("the handler's decision and violations reach the outcome") {
  review_response answer;
  answer.allowed = false;
  answer.message = "no";
  answer.decision = "denied";
  answer.violations = {{"workload-type-required", "enforce"}};
  fixed_handler h(answer);
  const auto outcome = process_review(fixture("pod-create-no-labels.json"), h);
  CHECK(outcome.http_status == 200);
  CHECK(outcome.decision == "denied");
  REQUIRE(outcome.violations.size() == 1);
  CHECK(outcome.violations[0].rule == "workload-type-required");
  CHECK(response_of(outcome.body)["status"]["code"] == 403);

  review_response warned;
  warned.warnings = {"missing workload-type"};
  fixed_handler w(warned);
  const auto warned_outcome = process_review(fixture("pod-create-no-labels.json"), w);
  CHECK(warned_outcome.decision == "allowed");
  CHECK(response_of(warned_outcome.body)["warnings"] == json({"missing workload-type"}));
}

TEST_CASE("decode errors are 400 AdmissionReview bodies; the handler is not called") {
  json good = json::parse(fixture("pod-delete.json"));
  const std::string uid = good["request"]["uid"];
  json no_kind = good;
  no_kind["request"].erase("kind");
  json beta_no_uid = good;
  beta_no_uid["apiVersion"] = "admission.k8s.io/v1beta1";
  beta_no_uid["request"].erase("uid");
  json not_review = good;
  not_review["kind"] = "Status";
  json no_request = good;
  no_request.erase("request");
  struct error_case {
    std::string body;
    std::string uid;
    std::string api_version;
    std::string message_start;
  };
  const std::vector<error_case> cases = {
      {"", "", "admission.k8s.io/v1", "empty request body"},
      {"{\"apiVersion\":", "", "admission.k8s.io/v1", "invalid JSON at offset 14: "},
      {"[]", "", "admission.k8s.io/v1", "not an AdmissionReview"},
      {not_review.dump(), uid, "admission.k8s.io/v1", "not an AdmissionReview: kind is \"Status\""},
      {no_request.dump(), "", "admission.k8s.io/v1", "AdmissionReview has no request"},
      {beta_no_uid.dump(), "", "admission.k8s.io/v1beta1", "request.uid is missing"},
      {no_kind.dump(), uid, "admission.k8s.io/v1", "request.kind is missing"},
      {std::string(1'000'000, '['), "", "admission.k8s.io/v1", "JSON nesting deeper than 256"},
      {std::string(300, '{'), "", "admission.k8s.io/v1", "invalid JSON at offset 1: "},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message_start);
    fixed_handler h(review_response{});
    const auto outcome = process_review(c.body, h);
    CHECK(h.calls == 0);
    CHECK(outcome.http_status == 400);
    CHECK(outcome.decision == "error");
    CHECK(outcome.uid == c.uid);
    CHECK(outcome.error.rfind(c.message_start, 0) == 0);
    const json answer = json::parse(outcome.body);
    CHECK(answer["apiVersion"] == c.api_version);
    CHECK(answer["kind"] == "AdmissionReview");
    CHECK(
        answer["response"] ==
        json({{"uid", c.uid},
              {"allowed", false},
              {"status", {{"code", 400}, {"reason", "BadRequest"}, {"message", outcome.error}}}}));
  }
}

TEST_CASE("deep nesting inside a real review is rejected, and the next request still works") {
  json review = json::parse(fixture("pod-create-kubectl-run.json"));
  json deep = json::array();
  for (int i = 0; i < 300; ++i) deep = json::array({deep});
  review["request"]["object"]["spec"]["deep"] = deep;
  fixed_handler h(review_response{});
  const auto rejected = process_review(review.dump(), h);
  CHECK(rejected.http_status == 400);
  CHECK(rejected.error.find("JSON nesting deeper than 256") != std::string::npos);
  const auto next = process_review(fixture("pod-create-kubectl-run.json"), h);
  CHECK(next.http_status == 200);
  CHECK(h.calls == 1);
}

TEST_CASE("a handler that throws anyway gets a 500 with the uid, never an exception") {
  throwing_handler h;
  const std::string body = fixture("pod-create-no-labels.json");
  mlnetpol::admission::review_outcome outcome;
  CHECK_NOTHROW(outcome = process_review(body, h));
  CHECK(outcome.http_status == 500);
  CHECK(outcome.decision == "error");
  CHECK(outcome.error == "handler failed: boom");
  CHECK(outcome.uid == "f10774c0-54a0-434a-8968-222a332c697d");
  const json r = response_of(outcome.body);
  CHECK(r["uid"] == "f10774c0-54a0-434a-8968-222a332c697d");
  CHECK(r["status"]["code"] == 500);
  CHECK(r["status"]["reason"] == "InternalError");
}

// The outcome's request fields are views into the decoded document (no copy per request): the
// outcome holds that document, so the thread's next decode cannot reuse its strings.
TEST_CASE("an outcome's request fields outlive the next request decoded on the thread") {
  fixed_handler h(review_response{});
  const json first_request = json::parse(fixture("networkpolicy-update.json"))["request"];
  const auto first = process_review(fixture("networkpolicy-update.json"), h);
  const auto second = process_review(fixture("pod-create-kubectl-run.json"), h);
  REQUIRE(first.http_status == 200);
  REQUIRE(second.http_status == 200);
  CHECK(first.uid == first_request["uid"].get<std::string>());
  CHECK(first.kind == "NetworkPolicy");
  CHECK(first.group == "networking.k8s.io");
  CHECK(first.namespace_name == first_request["namespace"].get<std::string>());
  CHECK(first.name == first_request["name"].get<std::string>());
  CHECK(first.user == first_request["userInfo"]["username"].get<std::string>());
  CHECK(first.groups == std::vector<std::string>{"system:masters", "system:authenticated"});
  CHECK(second.kind == "Pod");
  // An undecodable request's uid is kept by its outcome too.
  json bad = json::parse(fixture("pod-create-kubectl-run.json"));
  bad["request"]["operation"] = "PATCH";
  const auto rejected = process_review(bad.dump(), h);
  const auto after = process_review(fixture("pod-create-no-labels.json"), h);
  CHECK(rejected.http_status == 400);
  CHECK(rejected.uid == bad["request"]["uid"].get<std::string>());
  CHECK(after.uid == "f10774c0-54a0-434a-8968-222a332c697d");
}
