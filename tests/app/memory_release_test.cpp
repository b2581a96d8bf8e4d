#include "app/memory_release.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>

#include "tests/support/eventually.hpp"

using namespace std::chrono_literals;
using mlnetpol::app::memory_release;
using mlnetpol::testing::eventually;

namespace {

// Resident bytes of this process (/proc/self/statm).
long resident_bytes() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident * ::sysconf(_SC_PAGESIZE);
}

struct io_thread {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
      boost::asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~io_thread() {
    guard.reset();
    io.stop();
    thread.join();
  }
};

}  // namespace

TEST_CASE("memory_release: free pages between live blocks go back to the kernel") {
  io_thread t;
  // 32 MiB in small blocks, all freed but the last, which keeps the heap from shrinking at its top
  // by itself: the freed memory stays resident until it is released.
  std::vector<char*> blocks;
  for (int i = 0; i < 32 * 1024; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(1000)));
    blocks.back()[0] = 1;  // touched, so resident
  }
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i) std::free(blocks[i]);
  [[maybe_unused]] const long before = resident_bytes();  // unread under the sanitizer
  auto release = std::make_shared<memory_release>(t.io, 20ms);
  release->start();
  REQUIRE(eventually([&] { return release->releases() >= 1; }));
#if !defined(__SANITIZE_ADDRESS__)  // the sanitizer's allocator keeps its own free memory
  CHECK(resident_bytes() < before - 16 * 1024 * 1024);
#endif
  release->stop();
  std::this_thread::sleep_for(50ms);  // a tick already waiting sees the stop
  const auto after_stop = release->releases();
  std::this_thread::sleep_for(100ms);
  CHECK(release->releases() == after_stop);
  std::free(blocks.back());
}

TEST_CASE("memory_release: an interval of 0 never releases") {
  io_thread t;
  auto release = std::make_shared<memory_release>(t.io, 0ms);
  release->start();
  std::this_thread::sleep_for(100ms);
  CHECK(release->releases() == 0);
  release->stop();
}
