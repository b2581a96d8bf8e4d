#include "controller/sync_status.hpp"

#include <doctest/doctest.h>

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
