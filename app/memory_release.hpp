#pragma once
// Gives the heap's free pages back to the kernel every interval (malloc_trim): glibc keeps memory
// freed between live blocks resident, so after a burst of connections RSS stayed at its peak
// (15.5 MiB after a million pod reviews over 64 connections; 12.9 MiB one interval later with
// this, bench/README). Envoy releases its allocator's free memory on a timer the same way.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mlnetpol::app {

class memory_release final : public std::enable_shared_from_this<memory_release> {
 public:
  // interval 0: never.
  memory_release(boost::asio::io_context& io, std::chrono::milliseconds interval);

  void start();
  // No release starts after this returns.
  void stop();
  // Releases done so far.
  std::uint64_t releases() const { return releases_.load(); }

 private:
  void schedule();

  boost::asio::io_context& io_;
  const std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> releases_{0};
};

}  // namespace mlnetpol::app
