#include "controller/reconcile_results.hpp"

#include <doctest/doctest.h>

using namespace mlnetpol;
using namespace mlnetpol::controller;

namespace {

reconcile_outcome outcome(reconcile_status s, std::string message = "") {
  reconcile_outcome out;
  out.status = s;
  out.message = std::move(message);
  return out;
}

reconcile_outcome audited(std::size_t apply, std::size_t prune) {
  reconcile_outcome out = outcome(reconcile_status::audited);
  out.would_apply = apply;
  out.would_prune = prune;
  return out;
}

bool gauge_is(const controller_metrics& m, std::size_t n) {
  std::string text;
  m.render(text);
  return text.find("mlnetpol_audit_would_apply_policies " + std::to_string(n) + "\n") !=
         std::string::npos;
}

}  // namespace

TEST_CASE("reconcile_results: each status is handled one way") {
  using s = reconcile_status;
  for (auto settled : {s::ok, s::audited, s::absent, s::dropped, s::skipped}) {
    const auto h = handling_of(settled);
    CHECK_FALSE(h.retried);
    CHECK_FALSE(h.failed);
    CHECK_FALSE(h.renderer_bug);
    CHECK(h.log.empty());
  }
  // A renderer bug is not retried hot: forgotten, failed, counted.
  const auto invalid = handling_of(s::invalid);
  CHECK_FALSE(invalid.retried);
  CHECK(invalid.failed);
  CHECK(invalid.renderer_bug);
  CHECK(invalid.level == spdlog::level::err);
  // What RBAC or the credentials refuse is an error; retried all the same (a grant may come).
  for (auto refused : {s::forbidden, s::unauthorized}) {
    const auto h = handling_of(refused);
    CHECK(h.retried);
    CHECK(h.failed);
    CHECK(h.level == spdlog::level::err);
    CHECK_FALSE(h.log.empty());
  }
  for (auto transient : {s::retry, s::crd_missing}) {
    const auto h = handling_of(transient);
    CHECK(h.retried);
    CHECK(h.failed);
    CHECK_FALSE(h.renderer_bug);
    CHECK(h.level == spdlog::level::warn);
    CHECK(h.log == "reconcile failed, retrying");
  }
}

TEST_CASE("reconcile_results: the last failure and audit report per namespace") {
  controller_metrics metrics;
  reconcile_results results(metrics);
  results.record("a", outcome(reconcile_status::forbidden, "RBAC must grant create"));
  results.record("b", outcome(reconcile_status::ok));
  CHECK(results.errors() ==
        std::map<std::string, std::string>{{"a", "forbidden: RBAC must grant create"}});
  results.record("a", outcome(reconcile_status::ok));
  CHECK(results.errors().empty());

  results.record("t1", audited(3, 1));
  results.record("t2", audited(2, 0));
  CHECK(results.audit().at("t1") == audit_report{3, 1});
  CHECK(gauge_is(metrics, 5));
  results.record("t1", audited(1, 0));  // changed: the sum follows
  CHECK(gauge_is(metrics, 3));
  // A retry keeps what audit would do (the namespace did not change mode); a failure is shown.
  results.record("t1", outcome(reconcile_status::retry, "timeout"));
  CHECK(results.audit().contains("t1"));
  CHECK(results.errors().at("t1") == "retry: timeout");
  // Enforced now: no audit report any more.
  results.record("t1", outcome(reconcile_status::ok));
  CHECK_FALSE(results.audit().contains("t1"));
  CHECK(gauge_is(metrics, 2));
  // Deleted namespace: everything about it goes.
  results.record("t2", outcome(reconcile_status::crd_missing, "no CRD"));
  results.forget("t2");
  CHECK(results.audit().empty());
  CHECK(results.errors().empty());
  CHECK(gauge_is(metrics, 0));
}
