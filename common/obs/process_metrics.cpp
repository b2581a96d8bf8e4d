#include "common/obs/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/obs/metrics.hpp"

namespace mlnetpol::obs {
namespace {

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The btime line of /proc/stat: when the machine booted, in Unix seconds.
double boot_time() {
  const std::string stat = slurp("/proc/stat");
  const auto at = stat.find("\nbtime ");
  if (at == std::string::npos) return 0;
  double value = 0;
  const char* begin = stat.data() + at + 7;
  std::from_chars(begin, stat.data() + stat.size(), value);
  return value;
}

}  // namespace

process_sample parse_proc_stat(std::string_view stat, double ticks_per_second, double page_size,
                               double boot_time) {
  process_sample s;
  // comm ends at the last ')': fields 3.. follow, separated by single spaces.
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return s;
  std::string_view rest = stat.substr(close + 1);
  double fields[25] = {};  // fields[n] is field n of proc(5), from 3 on
  int n = 2;
  while (n < 24 && !rest.empty()) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = std::min(rest.find(' '), rest.size());
    ++n;
    double value = 0;
    std::from_chars(rest.data(), rest.data() + end, value);
    fields[n] = value;
    rest.remove_prefix(end);
  }
  if (n < 24) return s;
  s.cpu_seconds = (fields[14] + fields[15]) / ticks_per_second;
  s.start_time_seconds = boot_time + fields[22] / ticks_per_second;
  s.virtual_bytes = fields[23];
  s.resident_bytes = fields[24] * page_size;
  s.ok = true;
  return s;
}

process_sample read_process_sample() {
  process_sample s =
      parse_proc_stat(slurp("/proc/self/stat"), static_cast<double>(::sysconf(_SC_CLK_TCK)),
                      static_cast<double>(::sysconf(_SC_PAGESIZE)), boot_time());
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    s.open_fds += 1;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0)
    s.max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<double>(limit.rlim_cur);
  return s;
}

void append_process_metrics(std::string& out) {
  const process_sample s = read_process_sample();
  if (s.ok) {
    append_single(out, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.", s.cpu_seconds);
    append_single(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                  s.resident_bytes);
    append_single(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                  s.virtual_bytes);
    append_single(out, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.", s.start_time_seconds);
  }
  append_single(out, "process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds);
  append_single(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                s.max_fds);
}

}  // namespace mlnetpol::obs
