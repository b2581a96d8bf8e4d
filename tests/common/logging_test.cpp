#include "common/obs/logging.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <mutex>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

using namespace mlnetpol::obs;

namespace {
// Points the default logger at a string for one test; logging::setup's formats are reproduced by
// calling it first and then swapping the sink's stream.
struct captured_log {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  explicit captured_log(log_format format) {
    logging::setup(format, "info");
    auto logger = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_pattern("%v");
    auto copy = std::make_shared<spdlog::logger>("capture", sink);
    copy->set_level(spdlog::level::info);
    spdlog::set_default_logger(copy);
  }
  ~captured_log() { spdlog::set_default_logger(previous); }
};
}  // namespace

TEST_CASE("json events are JSON members with escaped values") {
  captured_log log(log_format::json);
  logging::event(spdlog::level::info, "admission",
                 {{"uid", "a\"b"}, {"kind", "Pod"}, {"latency_ms", 0.25}, {"code", 200}});
  CHECK(log.out.str() ==
        "\"msg\":\"admission\",\"uid\":\"a\\\"b\",\"kind\":\"Pod\",\"latency_ms\":0.250,\"code\":"
        "200\n");
}

TEST_CASE("json escapes control characters, quotes and backslashes inside runs") {
  captured_log log(log_format::json);
  logging::event(spdlog::level::info, "x", {{"v", "ab\ncd\"e\\f\x01"}});
  CHECK(log.out.str() == "\"msg\":\"x\",\"v\":\"ab\\u000acd\\\"e\\\\f\\u0001\"\n");
}

TEST_CASE("text events are key=value, quoted when needed") {
  captured_log log(log_format::text);
  logging::event(spdlog::level::info, "admission",
                 {{"uid", "u-1"}, {"name", "two words"}, {"namespace", ""}, {"latency_ms", 1.5}});
  CHECK(log.out.str() == "admission uid=u-1 name=\"two words\" namespace=\"\" latency_ms=1.500\n");
}

TEST_CASE("events below the level are dropped") {
  captured_log log(log_format::json);
  logging::event(spdlog::level::debug, "noise", {});
  CHECK(log.out.str().empty());
  CHECK_FALSE(logging::enabled(spdlog::level::debug));
  CHECK(logging::enabled(spdlog::level::warn));
}
