#pragma once
// Path -> handler routing (controller-runtime's Register style): a new webhook is one
// `mux.handle("/path", handler)` line in app/. Exact paths; the query (?timeout=5s) is ignored.
// Routes are registered before the server starts and only read afterwards.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "admission/review.hpp"
#include "server/log_limiter.hpp"

namespace mlnetpol::server {

class metrics;

// Which listener asks: the TLS webhook listener or the plain-HTTP metrics listener.
enum class listener_kind { webhook, metrics };
// Where a route answers.
enum class listeners { webhook, metrics, both };

inline constexpr std::string_view text_plain = "text/plain; charset=utf-8";

struct http_request {
  std::string_view method;
  std::string_view target;  // as sent, with the query
  std::string_view path;
  std::string_view content_type;
  bool has_content_type = false;
  std::string_view body;
  std::size_t body_padding = 0;  // readable bytes after body (the JSON parser reads in place)
  std::string_view peer;  // "ip:port", for logs
};

// Reused across the requests of a connection: assigning body keeps its capacity.
struct http_response {
  unsigned status = 200;
  std::string_view content_type = text_plain;  // a string with static storage
  std::string body;
  std::string_view allow;  // the Allow header, for a 405
  // The connection's write buffer (storage null: none, e.g. in tests), with room for the headers
  // before buffer.begin. A handler may write its body there instead (buffer.end, in_place set):
  // the session then sends it where it is, the headers written just before it.
  admission::answer_buffer buffer;
  bool in_place = false;
};

class mux {
 public:
  using handler_fn = std::function<void(const http_request&, http_response&)>;
  // Told of each denial a webhook answers (not dry-run), on the request's thread: it must be quick
  // and never wait on I/O (app/ hands it to the event recorder's bounded queue).
  using denial_fn = std::function<void(const admission::review_outcome&)>;

  // log_per_second, log_burst: the webhooks' decision lines at most (0: no limit).
  explicit mux(metrics& stats, std::uint64_t log_per_second = 0, std::uint64_t log_burst = 0)
      : stats_(stats), log_limiter_(log_per_second, log_burst) {}

  // An AdmissionReview webhook: POST on the webhook listener; counted and logged under the path
  // without its slash ("/mutate" -> webhook="mutate"). h must outlive the server.
  void handle(std::string path, admission::handler& h);
  // Any other route.
  void handle(std::string path, std::string_view method, listeners where, handler_fn fn);
  // Before the server starts; covers webhooks registered before and after.
  void on_denial(denial_fn fn) { on_denial_ = std::move(fn); }

  struct match {
    const handler_fn* fn = nullptr;  // null: no such path here (404)
    bool method_allowed = false;     // false: 405 with allow
    std::string_view allow;
  };
  match find(std::string_view method, std::string_view target, listener_kind from) const;

  // Routes the request, answering 404 and 405 itself.
  void serve(listener_kind from, const http_request& request, http_response& response) const;

 private:
  struct route {
    std::string path;
    std::string method;
    listeners where;
    handler_fn fn;
  };
  metrics& stats_;
  std::vector<route> routes_;
  denial_fn on_denial_;
  log_limiter log_limiter_;  // shared by the webhooks: one budget for the log
};

}  // namespace mlnetpol::server
