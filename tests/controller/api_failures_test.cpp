// The one classification of failed API calls, and the lines every caller logs for those no retry
// fixes (refused credentials, a missing RBAC grant).
#include "controller/api_failures.hpp"

#include <doctest/doctest.h>

#include <string>

#include "tests/support/captured_log.hpp"

using namespace mlnetpol;
using namespace mlnetpol::controller;
using k8s::failure_kind;
using mlnetpol::testing::captured_log;

namespace {

k8s::api_error error_of(failure_kind kind, unsigned status) {
  k8s::api_error e;
  e.kind = kind;
  e.status = status;
  e.message = "the API server's message";
  return e;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("classify_failure: every failure kind in one of five classes") {
  CHECK(classify_failure(error_of(failure_kind::unauthorized, 401)) ==
        failure_class::unauthenticated);
  CHECK(classify_failure(error_of(failure_kind::forbidden, 403)) == failure_class::forbidden);
  // A namespace being deleted answers 403 too, but no RBAC grant is missing: it is going away.
  CHECK(classify_failure(error_of(failure_kind::namespace_terminating, 403)) ==
        failure_class::gone);
  CHECK(classify_failure(error_of(failure_kind::not_found, 404)) == failure_class::gone);
  CHECK(classify_failure(error_of(failure_kind::crd_missing, 404)) == failure_class::crd_missing);
  for (const auto kind : {failure_kind::conflict, failure_kind::already_exists,
                          failure_kind::invalid, failure_kind::expired, failure_kind::throttled,
                          failure_kind::server_error, failure_kind::transport}) {
    CAPTURE(k8s::to_string(kind));
    CHECK(classify_failure(error_of(kind, 500)) == failure_class::retry);
  }
}

TEST_CASE(
    "log_unfixable: refused credentials and missing grants are errors, the rest the caller's") {
  {
    captured_log log;
    CHECK(
        log_unfixable(error_of(failure_kind::unauthorized, 401), "create", "events.events.k8s.io"));
    const std::string line = log.text();
    CHECK(line.starts_with("error "));
    CHECK(has(line, std::string(authentication_failed)));
    CHECK(has(line, R"("verb":"create")"));
    CHECK(has(line, R"("resource":"events.events.k8s.io")"));
    CHECK(has(line, R"("status":401)"));
  }
  {
    captured_log log;
    CHECK(log_unfixable(error_of(failure_kind::forbidden, 403), "watch", "pods"));
    const std::string line = log.text();
    CHECK(line.starts_with("error "));
    CHECK(has(line, "RBAC must grant this"));
    CHECK(has(line, R"("verb":"watch")"));
    CHECK(has(line, R"("resource":"pods")"));
  }
  for (const auto kind :
       {failure_kind::namespace_terminating, failure_kind::not_found, failure_kind::crd_missing,
        failure_kind::server_error, failure_kind::transport}) {
    CAPTURE(k8s::to_string(kind));
    captured_log log;
    CHECK_FALSE(log_unfixable(error_of(kind, 403), "create", "events.events.k8s.io"));
    CHECK(log.text().empty());
  }
}

TEST_CASE("log_informer_error: the verb and resource named, a retried failure a warning") {
  {
    captured_log log;
    log_informer_error(k8s::network_policies, error_of(failure_kind::forbidden, 403), true);
    const std::string line = log.text();
    CHECK(line.starts_with("error "));
    CHECK(has(line, "RBAC must grant this"));
    CHECK(has(line, R"("resource":"list networkpolicies.networking.k8s.io")"));
  }
  {
    captured_log log;
    log_informer_error(k8s::namespaces, error_of(failure_kind::server_error, 503), false);
    const std::string line = log.text();
    CHECK(line.starts_with("warning "));
    CHECK(has(line, "informer error, retrying"));
    CHECK(has(line, R"("resource":"watch namespaces")"));
    CHECK(has(line, R"("status":503)"));
  }
}
