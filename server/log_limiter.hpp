#pragma once
// How many decision lines (denials, warn/audit findings) the log takes: a controller retrying a
// refused create in a tight loop, or a flood of bad requests, must not become log volume and CPU.
// Lines left out are counted (mlnetpol_decision_log_lines_suppressed_total) and the next line
// written says how many came before it unwritten.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "common/token_bucket.hpp"

namespace mlnetpol::server {

class log_limiter {
 public:
  using clock = std::chrono::steady_clock;
  // per_second 0: every line is written.
  log_limiter(std::uint64_t per_second, std::uint64_t burst);

  struct verdict {
    bool write = true;
    std::uint64_t suppressed_before = 0;  // when write: lines left out since the last one written
  };
  verdict admit(clock::time_point now);

 private:
  std::mutex mutex_;
  std::optional<token_bucket> bucket_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace mlnetpol::server
