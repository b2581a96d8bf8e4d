#include "admission/codec.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <boost/throw_exception.hpp>

#include "admission/review_document.hpp"
#include "common/base64.hpp"
#include "common/json_escape.hpp"
#include "common/json_parse.hpp"

namespace mlnetpol::admission {
namespace {

using json::find_invalid_utf8;
using json::json_type_name;
using rapidjson::Value;
using decode_result = boost::system::result<review_request, decode_error>;

std::string_view view(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// The i-th value of a JSON array of strings, for policy::string_list.
std::string_view string_at(const void* items, std::size_t i) {
  return view(static_cast<const Value*>(items)[i]);
}

// Owns one parse, in a single allocation: a copy of the body that the document's strings point
// into (in-situ parsing copies no string), then the pool's first chunk for the tree itself. A
// typical review needs nothing more; bigger trees spill into further chunks of the same size.
struct parsed_document {
  explicit parsed_document(std::string_view body)
      : text_size(align(body.size() + 1)),
        chunk_size(pool_chunk_size(body.size())),
        storage(new char[text_size + chunk_size]),
        pool(storage.get() + text_size, chunk_size, chunk_size),
        document(&pool, stack_capacity(body.size()), &stack_allocator) {
    std::memcpy(storage.get(), body.data(), body.size());
    storage[body.size()] = '\0';
  }
  char* text() { return storage.get(); }

  // The captured reviews need 1.4 to 1.7 pool bytes (values, members) per byte of text.
  static std::size_t pool_chunk_size(std::size_t body_size) {
    return std::max<std::size_t>(4096, body_size * 2);
  }
  // The parse stack holds the values of still open containers; sized so a typical review's
  // parse does not grow it.
  static std::size_t stack_capacity(std::size_t body_size) {
    return std::clamp<std::size_t>(body_size, 1024, 64 * 1024);
  }
  static std::size_t align(std::size_t n) { return (n + 15) & ~std::size_t{15}; }
  // Stateless; shared so the document does not allocate one of its own.
  static inline rapidjson::CrtAllocator stack_allocator;

  std::size_t text_size;
  std::size_t chunk_size;
  std::unique_ptr<char[]> storage;
  rapidjson::MemoryPoolAllocator<> pool;
  rapidjson::Document document;  // declared last: destroyed before the memory it lives in
};

// Input quoted into an error message: cut to keep messages and log lines short (on a character
// boundary), and reduced to ASCII if JSON escapes made it invalid UTF-8.
std::string quoted(std::string_view s) {
  constexpr std::size_t max_chars = 64;
  std::string_view shown = s;
  if (s.size() > max_chars) {
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    shown = s.substr(0, cut);
  }
  std::string out = "\"";
  out += shown;
  if (find_invalid_utf8(shown)) {
    for (std::size_t i = 1; i < out.size(); ++i) {
      if (static_cast<unsigned char>(out[i]) >= 0x80) out[i] = '?';
    }
  }
  if (shown.size() < s.size()) out += "...";
  out.push_back('"');
  return out;
}

std::string wrong_type(std::string_view path, const char* want, const Value& got) {
  std::string message(path);
  message += " must be ";
  message += want;
  message += ", got ";
  message += json_type_name(got);
  return message;
}

// Optional string fields: absent or null read as "".
// A field that must be a string: null is a type error here (request.uid, request.operation).
// A view into the document: the request copies no string.
bool read_required_string(const Value& v, std::string_view path, const char* expected,
                          std::string_view& out, std::string& error) {
  if (!v.IsString()) {
    error = wrong_type(path, expected, v);
    return false;
  }
  out = view(v);
  return true;
}

bool read_string(const Value& v, std::string_view path, std::string_view& out,
                 std::string& error) {
  if (v.IsNull()) return true;
  return read_required_string(v, path, "a string", out, error);
}

bool read_object_pointer(const Value& v, std::string_view path, const Value*& out,
                         std::string& error) {
  if (v.IsNull()) return true;
  if (!v.IsObject()) {
    error = wrong_type(path, "an object or null", v);
    return false;
  }
  out = &v;
  return true;
}

bool read_gvk(const Value& v, group_version_kind& out, std::string& error) {
  if (!v.IsObject()) {
    error = wrong_type("request.kind", "an object", v);
    return false;
  }
  for (const auto& m : v.GetObject()) {
    const auto name = view(m.name);
    bool ok = true;
    if (name == "group") {
      ok = read_string(m.value, "request.kind.group", out.group, error);
    } else if (name == "version") {
      ok = read_string(m.value, "request.kind.version", out.version, error);
    } else if (name == "kind") {
      ok = read_string(m.value, "request.kind.kind", out.kind, error);
    }
    if (!ok) return false;
  }
  if (out.kind.empty()) {
    error = "request.kind.kind must be a non-empty string";
    return false;
  }
  return true;
}

bool read_resource(const Value& v, std::string_view& out, std::string& error) {
  if (!v.IsObject()) {
    error = wrong_type("request.resource", "an object", v);
    return false;
  }
  std::string_view ignored;
  for (const auto& m : v.GetObject()) {
    const auto name = view(m.name);
    bool ok = true;
    if (name == "resource") {
      ok = read_string(m.value, "request.resource.resource", out, error);
    } else if (name == "group") {
      ok = read_string(m.value, "request.resource.group", ignored, error);
    } else if (name == "version") {
      ok = read_string(m.value, "request.resource.version", ignored, error);
    }
    if (!ok) return false;
  }
  if (out.empty()) {
    error = "request.resource.resource must be a non-empty string";
    return false;
  }
  return true;
}

bool read_user_info(const Value& v, user_info& out, std::string& error) {
  if (v.IsNull()) return true;
  if (!v.IsObject()) {
    error = wrong_type("request.userInfo", "an object", v);
    return false;
  }
  for (const auto& m : v.GetObject()) {
    const auto name = view(m.name);
    if (name == "username") {
      if (!read_string(m.value, "request.userInfo.username", out.username, error)) return false;
    } else if (name == "groups") {
      if (m.value.IsNull()) continue;
      if (!m.value.IsArray()) {
        error = wrong_type("request.userInfo.groups", "an array of strings", m.value);
        return false;
      }
      for (const auto& group : m.value.GetArray()) {
        if (!group.IsString()) {
          error = wrong_type("request.userInfo.groups[]", "a string", group);
          return false;
        }
      }
      // Every element is a string: viewed in place (RapidJSON keeps an array's values contiguous).
      out.groups = policy::string_list(m.value.Begin(), m.value.Size(), &string_at);
    }
  }
  return true;
}

bool known_operation(std::string_view op) {
  return op == "CREATE" || op == "UPDATE" || op == "DELETE" || op == "CONNECT";
}

// Fills request from the "request" object; fields the codec does not model are skipped. A repeated
// key takes its last value, as Go's encoding/json does.
bool read_request(const Value& v, review_request& request, std::string& error) {
  bool has_uid = false;
  bool has_kind = false;
  bool has_resource = false;
  bool has_operation = false;
  for (const auto& m : v.GetObject()) {
    const auto name = view(m.name);
    const Value& value = m.value;
    bool ok = true;
    if (name == "uid") {
      ok = read_required_string(value, "request.uid", "a non-empty string", request.uid, error);
      has_uid = true;
    } else if (name == "kind") {
      request.kind = {};
      ok = read_gvk(value, request.kind, error);
      has_kind = true;
    } else if (name == "resource") {
      request.resource = {};
      ok = read_resource(value, request.resource, error);
      has_resource = true;
    } else if (name == "subResource") {
      ok = read_string(value, "request.subResource", request.sub_resource, error);
    } else if (name == "operation") {
      ok = read_required_string(value, "request.operation", "a string", request.operation, error);
      has_operation = true;
    } else if (name == "namespace") {
      ok = read_string(value, "request.namespace", request.namespace_name, error);
    } else if (name == "name") {
      ok = read_string(value, "request.name", request.name, error);
    } else if (name == "userInfo") {
      request.user = {};
      ok = read_user_info(value, request.user, error);
    } else if (name == "dryRun") {
      if (!value.IsNull() && !value.IsBool()) {
        error = wrong_type("request.dryRun", "a boolean", value);
        return false;
      }
      request.dry_run = value.IsTrue();
    } else if (name == "object") {
      request.object = nullptr;
      ok = read_object_pointer(value, "request.object", request.object, error);
    } else if (name == "oldObject") {
      request.old_object = nullptr;
      ok = read_object_pointer(value, "request.oldObject", request.old_object, error);
    }
    if (!ok) return false;
  }
  if (!has_uid) {
    error = "request.uid is missing";
  } else if (request.uid.empty()) {
    error = "request.uid must be a non-empty string";
  } else if (find_invalid_utf8(request.uid)) {
    error = "request.uid is not valid UTF-8";
  } else if (!has_kind) {
    error = "request.kind is missing";
  } else if (!has_resource) {
    error = "request.resource is missing";
  } else if (!has_operation) {
    error = "request.operation is missing";
  } else if (!known_operation(request.operation)) {
    error = "request.operation " + quoted(request.operation) +
            " is not one of CREATE, UPDATE, DELETE, CONNECT";
  }
  return error.empty();
}

std::string_view response_api_version(std::string_view requested) {
  return requested == admission_v1beta1 ? admission_v1beta1 : admission_v1;
}

// The response is written through a raw pointer into out, grown beforehand (if it is not yet) for
// the worst case (every string byte escaped as \u00XX): one pass, no capacity check per character,
// and in a buffer kept across requests no allocation and no zero-filling. The layout is what
// RapidJSON's Writer writes.
class response_writer {
 public:
  // Room for the fixed members: keys, literals, braces, a status code.
  static constexpr std::size_t fixed_bytes = 384;
  static constexpr std::size_t string_bytes(std::string_view s) {
    return json::max_escaped(s.size()) + 3;  // quotes and a separator
  }

  response_writer(answer_buffer& out, std::size_t bound) : out_(out) {
    if (out.storage->size() < out.begin + bound) out.storage->resize(out.begin + bound);
    p_ = out.storage->data() + out.begin;
  }
  void finish() { out_.end = static_cast<std::size_t>(p_ - out_.storage->data()); }

  template <std::size_t N>
  void raw(const char (&text)[N]) {
    std::memcpy(p_, text, N - 1);
    p_ += N - 1;
  }
  void raw(char c) { *p_++ = c; }
  // The comma between the items of an object or array: before each one but the first.
  void separate(bool& first) {
    if (!first) raw(',');
    first = false;
  }
  void string(std::string_view s) {
    *p_++ = '"';
    p_ = json::put_escaped(p_, s);
    *p_++ = '"';
  }
  void integer(int n) { p_ = std::to_chars(p_, p_ + 16, n).ptr; }
  void base64_string(std::string_view data) {
    *p_++ = '"';
    p_ = base64_put(p_, data);  // base64 needs no escaping
    *p_++ = '"';
  }

 private:
  answer_buffer& out_;
  char* p_ = nullptr;
};

// An answer of its own: the string-returning encoders.
template <typename Encode>
std::string encode_to_string(Encode&& encode) {
  std::string text;
  answer_buffer out{&text, 0, 0};
  encode(out);
  text.resize(out.end);
  return text;
}

// Writes {"apiVersion":...,"kind":"AdmissionReview","response":{"uid":...,"allowed":... ; the
// caller writes the response's other members and closes both objects.
void open_review(response_writer& w, std::string_view api_version, std::string_view uid,
                 bool allowed) {
  w.raw(R"({"apiVersion":)");
  w.string(response_api_version(api_version));
  w.raw(R"(,"kind":"AdmissionReview","response":{"uid":)");
  w.string(uid);
  if (allowed) {
    w.raw(R"(,"allowed":true)");
  } else {
    w.raw(R"(,"allowed":false)");
  }
}

void write_status(response_writer& w, int code, std::string_view message, std::string_view reason) {
  w.raw(R"(,"status":{)");
  bool first = true;
  if (code != 0) {
    w.separate(first);
    w.raw(R"("code":)");
    w.integer(code);
  }
  if (!message.empty()) {
    w.separate(first);
    w.raw(R"("message":)");
    w.string(message);
  }
  if (reason.empty()) reason = status_reason(code);
  if (!reason.empty()) {
    w.separate(first);
    w.raw(R"("reason":)");
    w.string(reason);
  }
  w.raw('}');
}

std::size_t status_bytes(std::string_view message, std::string_view reason) {
  return response_writer::string_bytes(message) + response_writer::string_bytes(reason) +
         response_writer::string_bytes("RequestEntityTooLarge");
}

}  // namespace

void throw_exception_from_error(const decode_error& error, const boost::source_location& location) {
  boost::throw_exception(std::runtime_error(error.message), location);
}

std::string_view status_reason(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return {};
  }
}

decode_result decode_review(std::string_view body, std::size_t padding) {
  // Copied into an error only when there is one: a decoded request copies no string.
  std::string_view error_uid;
  std::string_view error_api_version;
  auto fail = [&error_uid, &error_api_version](std::string message) {
    return decode_result(boost::system::in_place_error,
                         decode_error{std::move(message), std::string(error_uid),
                                      std::string(error_api_version)});
  };
  if (body.empty()) return fail("empty request body");

  // The fast path (review_document.hpp) checks the whole body's structure and fully validates
  // every value it keeps; a body it refuses goes through RapidJSON, whose messages the error
  // answers keep (and whose document decides when it reads what the fast path would not).
  std::shared_ptr<const rapidjson::Document> document;
  if (auto fast = parse_review_document(body, padding)) {
    document = std::shared_ptr<const rapidjson::Document>(fast, &fast->document);
  } else {
    auto parsed = std::make_shared<parsed_document>(body);
    if (auto done = json::parse_insitu(parsed->document, parsed->text(), body.size()); !done) {
      return fail(std::move(done.error().message));
    }
    document = std::shared_ptr<const rapidjson::Document>(parsed, &parsed->document);
  }
  const Value& root = *document;
  if (!root.IsObject()) {
    return fail(std::string("not an AdmissionReview: the body is ") + json_type_name(root) +
                ", not a JSON object");
  }
  const Value* api_version = nullptr;
  const Value* kind = nullptr;
  const Value* request = nullptr;
  for (const auto& m : root.GetObject()) {
    const auto name = view(m.name);
    if (name == "apiVersion") {
      api_version = &m.value;
    } else if (name == "kind") {
      kind = &m.value;
    } else if (name == "request") {
      request = &m.value;
    }
  }
  // The uid first, so every later error can echo it (unless an escape such as "\udc00" made it
  // invalid UTF-8, which must not go back into a response).
  if (request != nullptr && request->IsObject()) {
    for (const auto& m : request->GetObject()) {
      if (view(m.name) == "uid") {
        const bool usable = m.value.IsString() && !find_invalid_utf8(view(m.value));
        error_uid = usable ? view(m.value) : std::string_view();
      }
    }
  }

  if (api_version == nullptr) return fail("not an AdmissionReview: apiVersion is missing");
  if (!api_version->IsString()) {
    return fail("not an AdmissionReview: " + wrong_type("apiVersion", "a string", *api_version));
  }
  const auto version = view(*api_version);
  if (version != admission_v1 && version != admission_v1beta1) {
    return fail("not an AdmissionReview: unsupported apiVersion " + quoted(version) +
                " (want admission.k8s.io/v1 or admission.k8s.io/v1beta1)");
  }
  error_api_version = version;
  if (kind == nullptr) return fail("not an AdmissionReview: kind is missing");
  if (!kind->IsString()) {
    return fail("not an AdmissionReview: " + wrong_type("kind", "a string", *kind));
  }
  if (view(*kind) != "AdmissionReview") {
    return fail("not an AdmissionReview: kind is " + quoted(view(*kind)));
  }
  if (request == nullptr || request->IsNull()) return fail("AdmissionReview has no request");
  if (!request->IsObject()) return fail(wrong_type("request", "an object", *request));

  decode_result result(boost::system::in_place_value);
  review_request& out = *result;
  out.api_version = version;
  std::string message;
  if (!read_request(*request, out, message)) return fail(std::move(message));
  out.document = std::move(document);
  return result;
}

std::string encode_response(std::string_view api_version, std::string_view uid,
                            const review_response& response) {
  return encode_to_string(
      [&](answer_buffer& out) { encode_response(api_version, uid, response, out); });
}

void encode_response(std::string_view api_version, std::string_view uid,
                     const review_response& response, answer_buffer& out) {
  const bool has_status = !response.allowed || response.code != 0 || !response.message.empty();
  const int code = response.code == 0 && !response.allowed ? 403 : response.code;

  std::size_t bound = response_writer::fixed_bytes + response_writer::string_bytes(uid) +
                      status_bytes(response.message, response.reason);
  if (!response.patch.empty()) bound += 32 + base64_encoded_size(response.patch.size());
  for (const auto& w : response.warnings) bound += response_writer::string_bytes(w);
  for (const auto& [k, v] : response.audit_annotations) {
    bound += response_writer::string_bytes(k) + response_writer::string_bytes(v);
  }
  response_writer w(out, bound);
  open_review(w, api_version, uid, response.allowed);
  if (has_status) write_status(w, code, response.message, response.reason);
  if (!response.patch.empty()) {
    w.raw(R"(,"patchType":"JSONPatch","patch":)");
    w.base64_string(response.patch);
  }
  if (!response.warnings.empty()) {
    w.raw(R"(,"warnings":[)");
    bool first = true;
    for (const auto& warning : response.warnings) {
      w.separate(first);
      w.string(warning);
    }
    w.raw(']');
  }
  if (!response.audit_annotations.empty()) {
    w.raw(R"(,"auditAnnotations":{)");
    bool first = true;
    for (const auto& [k, v] : response.audit_annotations) {
      w.separate(first);
      w.string(k);
      w.raw(':');
      w.string(v);
    }
    w.raw('}');
  }
  w.raw("}}");
  w.finish();
}

std::string encode_error(std::string_view api_version, std::string_view uid,
                         std::string_view message, int code) {
  return encode_to_string(
      [&](answer_buffer& out) { encode_error(api_version, uid, message, code, out); });
}

void encode_error(std::string_view api_version, std::string_view uid, std::string_view message,
                  int code, answer_buffer& out) {
  response_writer w(out, response_writer::fixed_bytes + response_writer::string_bytes(uid) +
                             status_bytes(message, {}));
  open_review(w, api_version, uid, false);
  write_status(w, code, message, {});
  w.raw("}}");
  w.finish();
}

}  // namespace mlnetpol::admission
