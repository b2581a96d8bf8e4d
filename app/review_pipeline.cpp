#include "app/review_pipeline.hpp"

#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "admission/json_patch.hpp"
#include "common/base64.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"

namespace mlnetpol::app {
namespace {

result<webhook_answer> call(std::string_view body, admission::handler& h) {
  webhook_answer answer;
  answer.outcome = admission::process_review(body, h);
  if (answer.outcome.decision == admission::decision_error) {
    return fail(answer.outcome.error.empty() ? "the request could not be evaluated"
                                             : answer.outcome.error);
  }
  rapidjson::Document response;
  response.Parse(answer.outcome.body.c_str());
  const rapidjson::Value* r = json::json_member(&response, "response");
  const rapidjson::Value* allowed = json::json_member(r, "allowed");
  answer.allowed = allowed != nullptr && allowed->IsBool() && allowed->GetBool();
  answer.message = std::string(
      json::json_string(json::json_member(json::json_member(r, "status"), "message")));
  if (const rapidjson::Value* w = json::json_member(r, "warnings");
      w != nullptr && w->IsArray()) {
    for (const auto& item : w->GetArray()) {
      if (item.IsString()) answer.warnings.emplace_back(item.GetString(), item.GetStringLength());
    }
  }
  const std::string_view patch = json::json_string(json::json_member(r, "patch"));
  if (!patch.empty()) {
    auto decoded = base64_decode(patch);
    if (!decoded) return fail("the response's patch is not valid base64");
    answer.patch = std::move(*decoded);
  }
  return answer;
}

}  // namespace

result<chained_review> run_both_webhooks(std::string_view review_body,
                                         admission::label_webhook& handlers) {
  chained_review out;
  auto mutated = call(review_body, handlers.mutate());
  if (!mutated) return mutated.error();
  out.mutated = std::move(*mutated);

  // The validating webhook sees the object as the mutating webhook left it.
  if (auto parsed = json::parse(out.review, review_body); !parsed)
    return fail("the review is not valid JSON: " + parsed.error().message);
  rapidjson::Value* request =
      out.review.IsObject() && out.review.HasMember("request") ? &out.review["request"] : nullptr;
  rapidjson::Value* object = request != nullptr && request->IsObject() &&
                                     request->HasMember("object") && (*request)["object"].IsObject()
                                 ? &(*request)["object"]
                                 : nullptr;
  if (!out.mutated.patch.empty()) {
    if (object == nullptr) return fail("a patch for a request without an object");
    auto applied = admission::apply_patch(*object, out.mutated.patch, out.review.GetAllocator());
    if (!applied) return fail("the patch does not apply: " + applied.error().message);
  }
  rapidjson::StringBuffer mutated_body;
  rapidjson::Writer<rapidjson::StringBuffer> writer(mutated_body);
  out.review.Accept(writer);
  auto validated = call({mutated_body.GetString(), mutated_body.GetSize()}, handlers.validate());
  if (!validated) return validated.error();
  out.validated = std::move(*validated);
  return out;
}

}  // namespace mlnetpol::app
