#pragma once
// A reactor operation that retries a non-blocking call until it has a result, queued on the
// socket's existing edge-triggered epoll registration: what Asio's own receive operation does
// with recv, here for OpenSSL's calls on a socket OpenSSL reads itself (tls_stream.hpp).
//
// Why not socket::async_wait: Asio starts a wait without trying anything first, so it must
// re-arm the descriptor (epoll_ctl EPOLL_CTL_MOD) in case the edge already passed, on every wait.
// This operation tries the call first (under the descriptor's lock, on the reactor's thread), so
// an edge it could miss is one it has already consumed: it queues without a system call.
// An attempt that drained the socket says so (done_drained): the reactor then skips the next
// operation's first try until the socket reports new bytes, as nginx's `ready` flag does, which
// saves the read that would only find EAGAIN.
//
// Written against Asio's detail interface (Boost 1.81, the epoll reactor): the same shape as
// boost/asio/detail/reactive_socket_recv_op.hpp.
#include <cstddef>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/query.hpp>

namespace mlnetpol::server {

static_assert(std::is_same_v<boost::asio::detail::reactor, boost::asio::detail::epoll_reactor>,
              "tls_reactor_op is written for Asio's epoll reactor");

// A TCP socket that lets the operation reach its reactor registration (Asio keeps it protected).
class reactor_socket : public boost::asio::ip::tcp::socket {
 public:
  explicit reactor_socket(boost::asio::ip::tcp::socket&& socket)
      : boost::asio::ip::tcp::socket(std::move(socket)) {}

  boost::asio::detail::epoll_reactor::per_descriptor_data& reactor_data() {
    return impl_.get_implementation().reactor_data_;
  }
};

// What one try of the call came to.
enum class attempt_result {
  waiting,       // the socket has no bytes (or no room) for it yet: try again on its next edge
  done,          // ec and n hold the result
  done_drained,  // as done, and the socket had nothing more to read: no first try next time
};

// Attempt: attempt_result(error_code& ec, std::size_t& n). Handler: void(error_code, std::size_t).
template <typename Attempt, typename Handler, typename IoExecutor>
class tls_reactor_op : public boost::asio::detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(tls_reactor_op);

  tls_reactor_op(Attempt&& attempt, Handler& handler, const IoExecutor& io_ex)
      : reactor_op(boost::system::error_code(), &tls_reactor_op::do_perform,
                   &tls_reactor_op::do_complete),
        attempt_(std::move(attempt)),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<tls_reactor_op*>(base);
    switch (o->attempt_(o->ec_, o->bytes_transferred_)) {
      case attempt_result::waiting:
        return not_done;
      case attempt_result::done:
        return done;
      case attempt_result::done_drained:
        return done_and_exhausted;
    }
    return done;
  }

  // owner is null when the io_context is destroyed with the operation still queued: free only.
  static void do_complete(void* owner, boost::asio::detail::operation* base,
                          const boost::system::error_code& /*ec*/, std::size_t /*n*/) {
    auto* o = static_cast<tls_reactor_op*>(base);
    ptr p = {boost::asio::detail::addressof(o->handler_), o, o};
    boost::asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    // The handler moves out before the memory goes back: it may start the next operation.
    boost::asio::detail::binder2<Handler, boost::system::error_code, std::size_t> handler(
        o->handler_, o->ec_, o->bytes_transferred_);
    p.h = boost::asio::detail::addressof(handler.handler_);
    p.reset();
    if (owner) {
      boost::asio::detail::fenced_block b(boost::asio::detail::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  Attempt attempt_;
  Handler handler_;
  boost::asio::detail::handler_work<Handler, IoExecutor> work_;
};

// Which readiness the operation waits for.
enum class tls_direction { read, write };

// Tries `attempt` now (unless the last read drained the socket and no bytes came since) and then,
// while it waits, each time the socket becomes readable (direction read) or writable (write), or
// reports an error or hang-up; then completes `handler` through the socket's executor, never
// inline. One operation per direction and socket at a time. Closing the socket completes it with
// operation_aborted.
template <typename Attempt, typename Handler>
void start_tls_reactor_op(reactor_socket& socket, tls_direction direction, Attempt&& attempt,
                          Handler&& handler) {
  namespace detail = boost::asio::detail;
  using executor_type = reactor_socket::executor_type;
  using handler_type = std::decay_t<Handler>;
  using op = tls_reactor_op<std::decay_t<Attempt>, handler_type, executor_type>;
  const executor_type io_ex = socket.get_executor();
  auto& reactor = boost::asio::use_service<detail::reactor>(
      boost::asio::query(io_ex, boost::asio::execution::context));
  handler_type h(std::forward<Handler>(handler));
  typename op::ptr p = {detail::addressof(h), op::ptr::allocate(h), nullptr};
  p.p = new (p.v) op(std::forward<Attempt>(attempt), h, io_ex);
  // allow_speculative: the reactor performs the operation (the first try) before it queues it.
  // Waiting to write registers EPOLLOUT once per socket (one epoll_ctl); waiting to read, nothing.
  reactor.start_op(direction == tls_direction::read ? detail::epoll_reactor::read_op
                                                    : detail::epoll_reactor::write_op,
                   socket.native_handle(), socket.reactor_data(), p.p, false, true);
  p.v = p.p = nullptr;
}

}  // namespace mlnetpol::server
