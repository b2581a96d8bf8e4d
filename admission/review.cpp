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
review_outcome handler_failure(const review_request& request, const char* what,
                               answer_buffer& out) {
  review_outcome outcome;
  outcome.http_status = 500;
  outcome.error = std::string("handler failed: ") + what;
  encode_error(request.api_version, request.uid, outcome.error, 500, out);
  outcome.decision = decision_error;
  outcome.keep = request.document;  // first: the views below point into it
  outcome.uid = request.uid;
  outcome.kind = request.kind.kind;
  outcome.namespace_name = request.namespace_name;
  outcome.name = request.name;
  outcome.operation = request.operation;
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
      // An error's uid is its own string (the document may be gone): kept where a move of the
      // outcome does not move it.
      auto uid = std::make_shared<const std::string>(std::move(error.uid));
      outcome.uid = *uid;
      outcome.keep = std::move(uid);
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
    outcome.keep = std::move(request.document);  // first: the views below point into it
    outcome.uid = request.uid;
    outcome.group = request.kind.group;
    outcome.version = request.kind.version;
    outcome.kind = request.kind.kind;
    outcome.namespace_name = request.namespace_name;
    outcome.name = request.name;
    outcome.operation = request.operation;
    outcome.message = std::move(response.message);
    outcome.user = request.user.username;
    outcome.groups = request.user.groups;
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
