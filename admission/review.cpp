#include "admission/review.hpp"

#include <exception>

#include "admission/codec.hpp"

namespace mlnetpol::admission {
namespace {

std::string default_decision(const review_response& response) {
  if (!response.allowed) return "denied";
  return response.patch.empty() ? "allowed" : "patched";
}

// A handler broke its no-throw contract: answer 500 so the webhook's failurePolicy decides.
review_outcome handler_failure(review_request& request, const char* what, answer_buffer& out) {
  review_outcome outcome;
  outcome.http_status = 500;
  outcome.error = std::string("handler failed: ") + what;
  encode_error(request.api_version, request.uid, outcome.error, 500, out);
  outcome.decision = decision_error;
  outcome.uid = std::move(request.uid);
  outcome.kind = std::move(request.kind.kind);
  outcome.namespace_name = std::move(request.namespace_name);
  outcome.name = std::move(request.name);
  outcome.operation = std::move(request.operation);
  return outcome;
}

}  // namespace

review_outcome process_review(std::string_view body, handler& h, std::size_t padding) {
  std::string text;
  answer_buffer out{&text, 0, 0};
  review_outcome outcome = process_review(body, h, padding, out);
  text.resize(out.end);
  outcome.body = std::move(text);
  return outcome;
}

review_outcome process_review(std::string_view body, handler& h, std::size_t padding,
                              answer_buffer& out) {
  review_outcome outcome;
  out.end = out.begin;
  try {
    auto decoded = decode_review(body, padding);
    if (!decoded) {
      decode_error error = decoded.error();
      outcome.http_status = 400;
      encode_error(error.api_version, error.uid, error.message, 400, out);
      outcome.uid = std::move(error.uid);
      outcome.decision = decision_error;
      outcome.error = std::move(error.message);
      return outcome;
    }
    review_request& request = *decoded;
    review_response response;
    try {
      response = h.handle(request);
    } catch (const std::exception& e) {
      outcome = handler_failure(request, e.what(), out);
      return outcome;  // every path returns outcome, so it is built in the caller's object
    } catch (...) {
      outcome = handler_failure(request, "unknown exception", out);
      return outcome;
    }
    encode_response(request.api_version, request.uid, response, out);
    outcome.uid = std::move(request.uid);
    outcome.group = std::move(request.kind.group);
    outcome.version = std::move(request.kind.version);
    outcome.kind = std::move(request.kind.kind);
    outcome.namespace_name = std::move(request.namespace_name);
    outcome.name = std::move(request.name);
    outcome.operation = std::move(request.operation);
    outcome.message = std::move(response.message);
    outcome.user = std::move(request.user.username);
    outcome.groups = std::move(request.user.groups);
    outcome.mode = response.mode;
    outcome.dry_run = request.dry_run;
    outcome.decision =
        response.decision.empty() ? default_decision(response) : std::move(response.decision);
    outcome.patch = std::move(response.patch);  // after default_decision, which looks at it
    outcome.violations = std::move(response.violations);
    outcome.detail = std::move(response.detail);
  } catch (...) {
    // Only allocation failure gets here; these assignments fit the small-string buffer.
    outcome.http_status = 500;
    out.end = out.begin;
    outcome.decision = decision_error;
    outcome.error = "internal error";
  }
  return outcome;
}

}  // namespace mlnetpol::admission
