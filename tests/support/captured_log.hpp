#pragma once
// The process-wide logger pointed at a string for one test: each line "<level> <json fields>", e.g.
// `error "msg":"RBAC must grant this","verb":"create",...`; the previous logger is put back after.
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/obs/logging.hpp"

namespace mlnetpol::testing {

class captured_log {
 public:
  captured_log() {
    obs::logging::setup(obs::log_format::json, "debug");
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::debug);
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
