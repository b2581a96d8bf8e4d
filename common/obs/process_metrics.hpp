#pragma once
// The standard process_* families every Prometheus client library exports (CPU, memory, start
// time, file descriptors), read from /proc at scrape time so dashboards and alerts written for
// other exporters work unchanged. Linux only; on a read failure the family is left out.
#include <string>
#include <string_view>

namespace mlnetpol::obs {

struct process_sample {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // Unix time
  double open_fds = 0;
  double max_fds = 0;
  bool ok = false;  // /proc/self/stat and /proc/stat were readable
};

// Parses /proc/self/stat's text (`pid (comm) state ...`, comm may hold spaces and parentheses)
// with the clock ticks, page size and boot time (Unix seconds) it needs.
process_sample parse_proc_stat(std::string_view stat, double ticks_per_second, double page_size,
                               double boot_time);

process_sample read_process_sample();

// Appends the six process_* families of the current process.
void append_process_metrics(std::string& out);

}  // namespace mlnetpol::obs
