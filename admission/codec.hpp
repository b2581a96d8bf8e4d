#pragma once
// The AdmissionReview codec without a handler in between: the server uses it through
// process_review, `mlnetpol review` calls decode/encode directly. Errors are values, never thrown.
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "admission/review.hpp"

namespace mlnetpol::admission {

inline constexpr std::string_view admission_v1 = "admission.k8s.io/v1";
inline constexpr std::string_view admission_v1beta1 = "admission.k8s.io/v1beta1";

struct decode_error {
  std::string message;      // readable, e.g. "request.uid must be a non-empty string"
  std::string uid;          // request.uid when it could be read, else ""
  std::string api_version;  // the request's apiVersion when it is a supported one, else ""
};

// Lets result<T, decode_error>::value() throw; prefer checking the result instead.
[[noreturn]] void throw_exception_from_error(const decode_error& error,
                                             const boost::source_location& location);

// Parses (bounded: common/json_parse.hpp) and checks an AdmissionReview request body. padding:
// bytes readable after body that the parser may read (review_document.hpp); 0 copies the body.
boost::system::result<review_request, decode_error> decode_review(std::string_view body,
                                                                  std::size_t padding = 0);

// The AdmissionReview response JSON for a handler's answer, in the request's apiVersion.
// A denial without a code gets status 403/Forbidden; patch is base64-encoded with
// patchType JSONPatch; warnings and auditAnnotations appear only when non-empty.
std::string encode_response(std::string_view api_version, std::string_view uid,
                            const review_response& response);
// The same, written into out at out.begin (out.end set). Throws only std::bad_alloc (growing out).
void encode_response(std::string_view api_version, std::string_view uid,
                     const review_response& response, answer_buffer& out);

// An AdmissionReview error answer: allowed false, status {code, reason, message}; uid "" when
// unknown, api_version "" (or unsupported) answers in admission.k8s.io/v1.
std::string encode_error(std::string_view api_version, std::string_view uid,
                         std::string_view message, int code = 400);
// The same, written into out at out.begin (out.end set). Throws only std::bad_alloc (growing out).
void encode_error(std::string_view api_version, std::string_view uid, std::string_view message,
                  int code, answer_buffer& out);

// The metav1.StatusReason for an HTTP code ("BadRequest" for 400, ...), "" when there is none.
std::string_view status_reason(int code);

}  // namespace mlnetpol::admission
