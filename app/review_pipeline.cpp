#include "app/review_pipeline.hpp"

#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "admission/base64.hpp"
#include "policy/labels.hpp"

namespace mlnetpol::app {
namespace {

result<webhook_answer> call(std::string_view body, admission::handler& h) {
  webhook_answer answer;
  answer.outcome = admission::process_review(body, h);
  if (answer.outcome.decision == "error") {
    return fail(answer.outcome.error.empty() ? "the request could not be evaluated"
                                             : answer.outcome.error);
  }
  rapidjson::Document response;
  response.Parse(answer.outcome.body.c_str());
  const rapidjson::Value* r = policy::json_member(&response, "response");
  const rapidjson::Value* allowed = policy::json_member(r, "allowed");
  answer.allowed = allowed != nullptr && allowed->IsBool() && allowed->GetBool();
  answer.message = std::string(
      policy::json_string(policy::json_member(policy::json_member(r, "status"), "message")));
  if (const rapidjson::Value* w = policy::json_member(r, "warnings");
      w != nullptr && w->IsArray()) {
    for (const auto& item : w->GetArray()) {
      if (item.IsString()) answer.warnings.emplace_back(item.GetString(), item.GetStringLength());
    }
  }
  const std::string_view patch = policy::json_string(policy::json_member(r, "patch"));
  if (!patch.empty()) {
    auto decoded = admission::base64_decode(patch);
    if (!decoded) return fail("the response's patch is not valid base64");
    answer.patch = std::move(*decoded);
  }
  return answer;
}

}  // namespace

std::optional<std::string> apply_patch(rapidjson::Value& target, std::string_view patch_text,
                                       rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Document patch;
  patch.Parse(patch_text.data(), patch_text.size());
  if (patch.HasParseError() || !patch.IsArray()) return "the patch is not a JSON array";
  for (const auto& op : patch.GetArray()) {
    if (!op.IsObject() || !op.HasMember("op") || !op["op"].IsString() || !op.HasMember("path") ||
        !op["path"].IsString()) {
      return "a patch operation lacks op or path";
    }
    const std::string name = op["op"].GetString();
    const std::string path = op["path"].GetString();
    const rapidjson::Pointer pointer(path.c_str());
    if (!pointer.IsValid()) return "invalid JSON pointer " + path;
    const std::size_t slash = path.rfind('/');
    const rapidjson::Pointer parent(path.substr(0, slash).c_str());
    rapidjson::Value* at = pointer.Get(target);
    if (name == "add" || name == "replace") {
      if (!op.HasMember("value")) return name + " " + path + " has no value";
      const rapidjson::Value* holder = parent.Get(target);
      if (holder == nullptr || !holder->IsObject()) return name + " " + path + ": no parent object";
      if (name == "replace" && at == nullptr) return "replace " + path + ": no such member";
      pointer.Set(target, rapidjson::Value(op["value"], alloc), alloc);
    } else if (name == "remove") {
      if (!pointer.Erase(target)) return "remove " + path + ": no such member";
    } else if (name == "test") {
      if (at == nullptr || !op.HasMember("value") || *at != op["value"]) {
        return "test " + path + " failed";
      }
    } else {
      return "unsupported patch operation " + name;
    }
  }
  return std::nullopt;
}

result<chained_review> run_both_webhooks(std::string_view review_body,
                                         admission::label_webhook& handlers) {
  chained_review out;
  auto mutated = call(review_body, handlers.mutate());
  if (!mutated) return mutated.error();
  out.mutated = std::move(*mutated);

  // The validating webhook sees the object as the mutating webhook left it.
  out.review.Parse(review_body.data(), review_body.size());
  rapidjson::Value* request =
      out.review.IsObject() && out.review.HasMember("request") ? &out.review["request"] : nullptr;
  rapidjson::Value* object = request != nullptr && request->IsObject() &&
                                     request->HasMember("object") && (*request)["object"].IsObject()
                                 ? &(*request)["object"]
                                 : nullptr;
  if (!out.mutated.patch.empty()) {
    if (object == nullptr) return fail("a patch for a request without an object");
    if (auto problem = apply_patch(*object, out.mutated.patch, out.review.GetAllocator())) {
      return fail("the patch does not apply: " + *problem);
    }
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
