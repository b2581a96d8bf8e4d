#include "server/webhook_route.hpp"

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "common/obs/logging.hpp"
#include "server/metrics.hpp"
#include "tests/support/captured_log.hpp"

using namespace mlnetpol::server;
namespace admission = mlnetpol::admission;
namespace logging = mlnetpol::obs::logging;

namespace {

// Answers with a fixed response, so the route's logging can be checked per decision.
class fixed_handler final : public admission::handler {
 public:
  explicit fixed_handler(admission::review_response r) : response_(std::move(r)) {}
  admission::review_response handle(const admission::review_request&) override { return response_; }

 private:
  admission::review_response response_;
};

// The default logger pointed at a string at the given level, for one test; denials logged again
// after it (a test turns them off).
struct captured_log : mlnetpol::testing::captured_log {
  explicit captured_log(spdlog::level::level_enum level)
      : mlnetpol::testing::captured_log({.level = level}) {}
  ~captured_log() { logging::set_log_denies(true); }
};

const std::string review =
    R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",)"
    R"("kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"resource":"pods"},)"
    R"("operation":"CREATE","namespace":"training","name":"p","dryRun":true,)"
    R"("userInfo":{"username":"alice"},"object":{"metadata":{"name":"p"}}}})";

// A POST of body to /validate as the API server sends it.
http_request post(const std::string& body) {
  http_request request;
  request.method = "POST";
  request.path = "/validate";
  request.content_type = "application/json";
  request.has_content_type = true;
  request.body = body;
  return request;
}

std::string call(admission::handler& h, const std::string& body = review,
                 const mux::denial_fn* on_denial = nullptr) {
  metrics stats;
  const auto route = webhook_route("validate", h, stats, on_denial);
  http_response response;
  route(post(body), response);
  CHECK(response.status == 200);
  return response.body;
}

admission::review_response denial() {
  admission::review_response r;
  r.allowed = false;
  r.message = "no";
  r.decision = "denied";
  r.mode = "enforce";
  r.violations = {{"workload-type-missing", "enforce"}};
  return r;
}

}  // namespace

TEST_CASE("a denial is logged at info with who and why") {
  captured_log log(spdlog::level::info);
  fixed_handler h(denial());
  call(h);
  const std::string line = log.text();
  CHECK(line.rfind("info \"msg\":\"admission\"", 0) == 0);
  CHECK(line.find(R"("uid":"u-1")") != std::string::npos);
  CHECK(line.find(R"("user":"alice")") != std::string::npos);
  CHECK(line.find(R"("operation":"CREATE")") != std::string::npos);
  CHECK(line.find(R"("dry_run":true)") != std::string::npos);
  CHECK(line.find(R"("decision":"denied")") != std::string::npos);
  CHECK(line.find(R"("violations":"workload-type-missing:enforce")") != std::string::npos);
  CHECK(line.find(R"("detail":"")") != std::string::npos);
}

TEST_CASE("a denial's detail (the labels a namespace-label refusal names) is logged") {
  captured_log log(spdlog::level::info);
  admission::review_response r = denial();
  r.violations = {{"namespace-label", "enforce"}};
  r.detail = "mlnetpol.io/enforcement";
  fixed_handler h(r);
  call(h);
  const std::string line = log.text();
  CHECK(line.find(R"("rule":"namespace-label")") != std::string::npos);
  CHECK(line.find(R"("detail":"mlnetpol.io/enforcement")") != std::string::npos);
}

TEST_CASE("allowed and patched decisions are logged at debug only") {
  admission::review_response patched;
  patched.patch = R"([{"op":"add","path":"/metadata/labels","value":{"a":"b"}}])";
  fixed_handler h(patched);
  {
    captured_log log(spdlog::level::info);
    call(h);
    CHECK(log.text().empty());
  }
  captured_log log(spdlog::level::debug);
  call(h);
  const std::string line = log.text();
  CHECK(line.rfind("debug \"msg\":\"admission\"", 0) == 0);
  CHECK(line.find(R"("decision":"patched")") != std::string::npos);
  CHECK(line.find(R"("patch":"[{\"op\":\"add\")") != std::string::npos);
}

TEST_CASE("--log-denies=false puts denials at debug too") {
  captured_log log(spdlog::level::info);
  logging::set_log_denies(false);
  fixed_handler h(denial());
  call(h);
  CHECK(log.text().empty());
}

TEST_CASE("the decision line: groups cut to four, mode, the rule, RFC 3339 time, level names") {
  captured_log log(spdlog::level::info);
  fixed_handler h(denial());
  std::string with_groups = review;
  const std::string user = R"("userInfo":{"username":"alice"})";
  with_groups.replace(with_groups.find(user), user.size(),
                      R"("userInfo":{"username":"alice","groups":["system:authenticated",)"
                      R"("ml-team","g3","g4","g5","g6"]})");
  call(h, with_groups);
  const std::string line = log.text();
  CHECK(line.find(R"("groups":"system:authenticated,ml-team,g3,g4,+2")") != std::string::npos);
  CHECK(line.find(R"("mode":"enforce")") != std::string::npos);
  CHECK(line.find(R"("rule":"workload-type-missing")") != std::string::npos);
  CHECK(line.find(R"("dry_run":true)") != std::string::npos);
  CHECK(line.find(R"("patch":"")") != std::string::npos);
}

TEST_CASE("denials, and only real ones, are handed to on_denial with their message") {
  std::vector<admission::review_outcome> seen;
  const mux::denial_fn on_denial = [&](const admission::review_outcome& o) { seen.push_back(o); };
  auto run = [&](admission::handler& h, const std::string& body) { call(h, body, &on_denial); };
  std::string real = review;
  real.replace(real.find(R"("dryRun":true)"), 13, R"("dryRun":false)");
  fixed_handler denies(denial());
  run(denies, real);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].decision == "denied");
  CHECK(seen[0].message == "no");
  CHECK(seen[0].version == "v1");
  CHECK(seen[0].group.empty());
  CHECK(seen[0].kind == "Pod");
  CHECK(seen[0].namespace_name == "training");
  CHECK(seen[0].name == "p");
  // A dry run changes nothing: no event.
  run(denies, review);
  CHECK(seen.size() == 1);
  // Allowed, or warned: no event either.
  admission::review_response warned;
  warned.decision = "warned";
  warned.violations = {{"workload-type-missing", "warn"}};
  fixed_handler warns(warned);
  run(warns, real);
  fixed_handler allows(admission::review_response{});
  run(allows, real);
  CHECK(seen.size() == 1);
  // An empty function or none at all is fine.
  const mux::denial_fn nothing;
  call(denies, real, &nothing);
  call(denies, real);
}

TEST_CASE("decision lines past the limiter's burst are counted, not written; the next says so") {
  captured_log log(spdlog::level::info);
  fixed_handler h(denial());
  metrics stats;
  log_limiter limiter(1, 2);  // two at once, then one a second: the third and fourth wait
  const auto route = webhook_route("validate", h, stats, nullptr, &limiter);
  const http_request request = post(review);
  for (int i = 0; i < 4; ++i) {
    http_response response;
    route(request, response);
    CHECK(response.status == 200);
    CHECK(response.body.find(R"("allowed":false)") != std::string::npos);  // answered all the same
  }
  const std::string lines = log.text();
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 2);
  CHECK(lines.find(R"("suppressed_before":0)") != std::string::npos);
  CHECK(stats.log_lines_suppressed() == 2);
  std::string text;
  stats.render(text);
  CHECK(text.find("mlnetpol_decision_log_lines_suppressed_total 2\n") != std::string::npos);

  // debug lines (--log-denies=false) are what was asked for: never limited, never counted
  captured_log debug_log(spdlog::level::debug);
  logging::set_log_denies(false);
  for (int i = 0; i < 3; ++i) {
    http_response response;
    route(request, response);
  }
  const std::string debug_lines = debug_log.text();
  CHECK(std::count(debug_lines.begin(), debug_lines.end(), '\n') == 3);
  CHECK(stats.log_lines_suppressed() == 2);
}
