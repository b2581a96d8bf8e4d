#include "common/obs/process_metrics.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace mlnetpol::obs;

TEST_CASE("process_*: /proc/self/stat is parsed after the last ')' of comm") {
  // A comm with spaces and parentheses; utime 250 + stime 50 ticks, starttime 1000 ticks,
  // vsize 123456789 bytes, rss 300 pages.
  const std::string stat =
      "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1000 "
      "123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  const process_sample s = parse_proc_stat(stat, 100, 4096, 1'600'000'000);
  REQUIRE(s.ok);
  CHECK(s.cpu_seconds == doctest::Approx(3.0));
  CHECK(s.start_time_seconds == doctest::Approx(1'600'000'010.0));
  CHECK(s.virtual_bytes == doctest::Approx(123456789.0));
  CHECK(s.resident_bytes == doctest::Approx(300.0 * 4096));
  CHECK_FALSE(parse_proc_stat("4242 (truncated) S 1 2 3", 100, 4096, 0).ok);
  CHECK_FALSE(parse_proc_stat("no parenthesis", 100, 4096, 0).ok);
}

TEST_CASE("process_*: this process, from /proc") {
  const process_sample s = read_process_sample();
  REQUIRE(s.ok);
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(s.start_time_seconds > now_s - 24 * 3600);
  CHECK(s.start_time_seconds <= now_s + 1);
  CHECK(s.resident_bytes > 0);
  CHECK(s.virtual_bytes >= s.resident_bytes);
  CHECK(s.open_fds >= 3);
  CHECK(s.max_fds >= s.open_fds);
  std::string out;
  append_process_metrics(out);
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_virtual_memory_bytes", "process_start_time_seconds",
                             "process_open_fds", "process_max_fds"}) {
    CAPTURE(family);
    CHECK(out.find(std::string("\n") + family + " ") != std::string::npos);
  }
  CHECK(out.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
}
