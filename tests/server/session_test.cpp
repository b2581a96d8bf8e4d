#include "server/session.hpp"

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>

using mlnetpol::server::options;
using mlnetpol::server::server_state;
namespace net = boost::asio;

TEST_CASE("new connections go to the I/O threads' io_contexts in turn") {
  net::io_context listener_io;
  net::io_context a;
  net::io_context b;
  server_state state{options{}};
  CHECK(state.connection_executor(listener_io) == listener_io.get_executor());  // one I/O thread
  state.connection_executors = {a.get_executor(), b.get_executor()};
  CHECK(state.connection_executor(listener_io) == a.get_executor());
  CHECK(state.connection_executor(listener_io) == b.get_executor());
  CHECK(state.connection_executor(listener_io) == a.get_executor());
}
