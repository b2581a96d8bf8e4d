#include "server/connection_deadline.hpp"

#include <functional>

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>

using mlnetpol::server::connection_deadline;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

// A connection's use of it: wake-ups before the deadline wait again; counts the timer arms.
struct watched {
  net::io_context io;
  connection_deadline deadline{io.get_executor(), 20ms};
  int arms = 0;
  int wakeups = 0;
  bool expired = false;

  std::function<void(boost::system::error_code)> handler() {
    ++arms;
    return [this](boost::system::error_code ec) {
      if (ec == net::error::operation_aborted) return;
      ++wakeups;
      deadline.fired();
      const auto now = connection_deadline::clock::now();
      if (!deadline.passed(now)) return deadline.rearm(now, handler());
      expired = true;
    };
  }
  void set(std::chrono::milliseconds in) {
    const auto now = connection_deadline::clock::now();
    deadline.set(now + in, now, [this] { return handler(); });
  }
};

}  // namespace

TEST_CASE("a deadline moved later needs no timer operation; it fires once passed") {
  watched w;
  const auto start = connection_deadline::clock::now();
  w.set(60ms);
  CHECK(w.arms == 1);
  w.set(80ms);  // later than the pending wake-up (at most 20 ms away): a store
  w.set(70ms);
  CHECK(w.arms == 1);
  w.io.run_for(2s);
  CHECK(w.expired);
  CHECK(connection_deadline::clock::now() - start >= 70ms);
  CHECK(w.wakeups >= 3);  // woken at most every 20 ms until the deadline
}

TEST_CASE("a deadline moved earlier than the pending wake-up re-arms") {
  watched w;
  w.set(1000ms);
  CHECK(w.arms == 1);
  w.set(1ms);
  CHECK(w.arms == 2);
  w.io.run_for(1s);
  CHECK(w.expired);
  CHECK(w.wakeups == 1);  // the replaced wait returned aborted, not counted
}

TEST_CASE("a cancelled deadline never fires") {
  watched w;
  w.set(5ms);
  w.deadline.cancel();
  w.io.run_for(100ms);
  CHECK_FALSE(w.expired);
  CHECK(w.wakeups == 0);
}
