#pragma once
// The process-wide logger pointed at a string for one test: by default each line "<level> <json
// fields>", e.g. `error "msg":"RBAC must grant this","verb":"create",...`; the previous logger is
// put back after.
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/obs/logging.hpp"

namespace mlnetpol::testing {

struct captured_log_options {
  obs::log_format format = obs::log_format::json;  // the line's format, as logging::setup sets it
  spdlog::level::level_enum level = spdlog::level::debug;
  const char* pattern = "%l %v";  // "%v": the line alone
};

class captured_log {
 public:
  explicit captured_log(const captured_log_options& options = {}) {
    obs::logging::setup(options.format, "debug");
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern(options.pattern);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(options.level);
    spdlog::set_default_logger(logger);
  }
  ~captured_log() { spdlog::set_default_logger(previous_); }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  // Everything logged so far (lines end in '\n').
  std::string text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
};

}  // namespace mlnetpol::testing
