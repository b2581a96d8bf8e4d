#include "app/memory_release.hpp"

#include <malloc.h>

#include <boost/asio/post.hpp>

namespace mlnetpol::app {

memory_release::memory_release(boost::asio::io_context& io, std::chrono::milliseconds interval)
    : io_(io), interval_(interval), timer_(io) {}

void memory_release::start() {
  if (interval_.count() > 0)
    boost::asio::post(io_, [self = shared_from_this()] { self->schedule(); });
}

void memory_release::stop() {
  stopped_.store(true);
  // The timer belongs to the I/O thread; stop() may come from another one.
  boost::asio::post(io_, [self = shared_from_this()] { self->timer_.cancel(); });
}

void memory_release::schedule() {
  if (stopped_.load()) return;
  timer_.expires_after(interval_);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_.load()) return;
    // At most a few hundred microseconds for a heap of a few MiB (0.27 ms for 10 MiB in 10,000
    // holes; next to nothing when there is nothing new to give back).
    malloc_trim(0);
    self->releases_.fetch_add(1);
    self->schedule();
  });
}

}  // namespace mlnetpol::app
