#pragma once
// One AdmissionReview through both webhooks as the API server chains them: /mutate, its patch
// applied to request.object, then /validate on the mutated object. Shared by both `review` inputs
// (AdmissionReviews and plain manifests).
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "admission/label_webhook.hpp"
#include "admission/review.hpp"
#include "common/result.hpp"

namespace mlnetpol::app {

struct webhook_answer {
  admission::review_outcome outcome;
  bool allowed = false;
  std::string message;                // response.status.message, "" when none
  std::vector<std::string> warnings;  // response.warnings
  std::string patch;                  // decoded JSON Patch, "" when none
};

struct chained_review {
  webhook_answer mutated;
  webhook_answer validated;
  rapidjson::Document review;  // the request as the validating webhook saw it (patch applied)
  bool allowed() const { return mutated.allowed && validated.allowed; }
};

// Errors: the review cannot be evaluated or the patch does not apply (messages without a source).
result<chained_review> run_both_webhooks(std::string_view review_body,
                                         admission::label_webhook& handlers);

}  // namespace mlnetpol::app
