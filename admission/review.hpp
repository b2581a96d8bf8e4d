#pragma once
// The AdmissionReview codec's types and the handler interface the server knows. No sockets here:
// the server hands a body in and gets an HTTP status and a body out.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <boost/container/small_vector.hpp>

#include "policy/string_list.hpp"

namespace mlnetpol::admission {

struct group_version_kind {
  std::string_view group;
  std::string_view version;
  std::string_view kind;
};

struct user_info {
  std::string_view username;
  policy::string_list groups;
};

// A decoded AdmissionReview request. Owns the parsed document; every view (the strings, groups,
// object, old_object) points into it, so a copy of the request stays valid on its own and decoding
// copies no string. Whatever outlives the request copies what it keeps (or holds `document`).
struct review_request {
  std::string_view api_version;  // "admission.k8s.io/v1" or "admission.k8s.io/v1beta1"
  std::string_view uid;
  group_version_kind kind;
  std::string_view resource;      // request.resource.resource, e.g. "pods"
  std::string_view sub_resource;  // request.subResource, e.g. "status"
  std::string_view operation;     // CREATE, UPDATE, DELETE, CONNECT
  std::string_view namespace_name;
  std::string_view name;  // empty for generateName objects
  user_info user;
  bool dry_run = false;
  const rapidjson::Value* object = nullptr;      // null when absent or JSON null (DELETE)
  const rapidjson::Value* old_object = nullptr;  // null when absent or JSON null (CREATE)
  std::shared_ptr<const rapidjson::Document> document;
};

struct violation_record {
  std::string_view rule;  // a policy::rule_* constant (static)
  std::string_view mode;  // enforce | warn | audit (static)
};
// One or two per refused request: inline, no allocation.
using violation_records = boost::container::small_vector<violation_record, 2>;

// What a handler answers; the codec turns it into AdmissionReview.response.
struct review_response {
  bool allowed = true;
  int code = 0;  // status.code; 0 = no status object
  std::string message;
  std::string reason;
  std::string patch;  // an RFC 6902 JSON Patch document (a JSON array); empty = no patch
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> audit_annotations;
  // For the decision log line and metrics, not sent to the API server.
  std::string decision;   // allowed | patched | denied | warned | audited | exempt
  std::string_view mode;  // enforce | warn | audit in force for the request (a static string)
  violation_records violations;
  std::string detail;  // what a refusal is about beyond its rules (e.g. the labels), for the log
};

class handler {
 public:
  virtual ~handler() = default;
  // A decision is a review_response; an internal error is an exception, which process_review
  // answers with HTTP 500 so the webhook's failurePolicy decides (never a silent deny).
  virtual review_response handle(const review_request& request) = 0;
};

// The decision of a request that got no decision: undecodable input, or a handler that failed.
inline constexpr std::string_view decision_error = "error";

// Where an AdmissionReview answer is written in place (the server: its connection's write
// buffer, kept across requests, with room for the HTTP headers before begin). The answer is
// storage[begin, end). storage's size() is the room in use, not the answer's end: the bytes past
// end are scratch a writer may overwrite, so a buffer grown once is never grown or zero-filled
// again.
struct answer_buffer {
  std::string* storage = nullptr;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view view() const { return {storage->data() + begin, end - begin}; }
};

// What the server writes back, plus the fields of the decision log line. The request's fields are
// views into `keep` (the decoded request's document, or the uid of an undecodable one), which the
// outcome owns: valid for as long as the outcome (or a copy of it) lives.
struct review_outcome {
  unsigned http_status = 200;
  // Always an AdmissionReview JSON (errors too), uid echoed when known; empty when it went to an
  // answer_buffer instead.
  std::string body;
  std::string_view uid;
  std::string_view group;  // request.kind's group and version (an Event's regarding apiVersion)
  std::string_view version;
  std::string_view kind;
  std::string_view namespace_name;
  std::string_view name;
  std::string_view operation;
  std::string message;         // review_response::message (a denial's reason, for its Event)
  std::string_view user;       // request.userInfo.username
  policy::string_list groups;  // request.userInfo.groups
  std::string_view mode;       // review_response::mode
  bool dry_run = false;        // request.dryRun
  std::string patch;           // the JSON Patch sent (base64-encoded in body), for the decision log
  std::string decision;        // as review_response::decision, or decision_error
  std::string error;           // readable transport/decode error, empty on success
  violation_records violations;
  std::string detail;                // review_response::detail
  std::shared_ptr<const void> keep;  // what the views above point into
};

// Decodes body (padding as for decode_review), calls h, encodes the answer into outcome.body.
// Never throws.
review_outcome process_review(std::string_view body, handler& h, std::size_t padding = 0);
// The same, the answer written into out (out.end set; out.begin unchanged) instead of
// outcome.body: the server's path, which copies the answer nowhere.
review_outcome process_review(std::string_view body, handler& h, std::size_t padding,
                              answer_buffer& out);

}  // namespace mlnetpol::admission
