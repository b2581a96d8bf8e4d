#include "controller/sync_status.hpp"

#include <doctest/doctest.h>

#include "controller/plan_writes.hpp"

using namespace mlnetpol;
using namespace mlnetpol::controller;

TEST_CASE("sync_status: a keeper's status is unknown until its first sync, then the last one") {
  struct keeper_status : sync_status {
    std::string extra;
  };
  status_cell<keeper_status> cell;
  CHECK(cell.get().state == "unknown");
  keeper_status next;
  next.state = "in_place";
  next.applied = 2;
  next.extra = "x";
  const keeper_status previous = cell.exchange(next);
  CHECK(previous.state == "unknown");
  CHECK(previous.applied == 0);
  CHECK(cell.get().state == "in_place");
  CHECK(cell.get().applied == 2);
  CHECK(cell.get().extra == "x");
  next.state = "error";
  CHECK(cell.exchange(next).state == "in_place");
  CHECK(cell.get().state == "error");
}

TEST_CASE("sync_status: what a sync wrote, and a refused write as the error") {
  sync_status s;
  s.state = "in_place";
  plan_result wrote;
  wrote.applied = 2;
  wrote.pruned = 1;
  note_writes(s, wrote);
  CHECK(s.state == "in_place");
  CHECK(s.applied == 2);
  CHECK(s.pruned == 1);
  k8s::api_error e;
  e.kind = k8s::failure_kind::forbidden;
  e.status = 403;
  e.message = "RBAC says no";
  wrote.error = e;
  note_writes(s, wrote);
  CHECK(s.state == "error");
  CHECK(s.message == describe(e));
  CHECK(s.message.find("RBAC says no") != std::string::npos);
}
