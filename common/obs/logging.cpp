#include "common/obs/logging.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>

#include <unistd.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

namespace mlnetpol::obs::logging {
namespace {

std::atomic<log_format> current_format{log_format::json};

// stdout without spdlog's fflush after every line; the stdio buffer is flushed on warn and every
// second instead.
class buffered_stdout_sink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }
};

void append_json_string(spdlog::memory_buf_t& out, std::string_view s) {
  out.push_back('"');
  // Copy runs of plain characters at once; only quotes, backslashes and controls need escaping.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s.data() + run, s.data() + i);
    if (u < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out.push_back('\\');
      out.push_back(s[i]);
    }
    run = i + 1;
  }
  out.append(s.data() + run, s.data() + s.size());
  out.push_back('"');
}

void append_text_value(spdlog::memory_buf_t& out, std::string_view s) {
  const bool quote = s.empty() || s.find_first_of(" \t\"=\n") != std::string_view::npos;
  if (!quote) {
    out.append(s.data(), s.data() + s.size());
    return;
  }
  append_json_string(out, s);  // JSON string escaping is a fine quoting rule for text too
}

// Numbers are the same in both formats; text values are quoted per format.
bool append_number(spdlog::memory_buf_t& out, const field& f) {
  if (f.kind == field::type::integer) {
    fmt::format_to(std::back_inserter(out), "{}", f.integer);
  } else if (f.kind == field::type::real) {
    fmt::format_to(std::back_inserter(out), "{:.3f}", f.number);
  } else {
    return false;
  }
  return true;
}

}  // namespace

void setup(log_format format, std::string_view level) {
  current_format.store(format);
  if (!isatty(STDOUT_FILENO)) std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
  auto sink = std::make_shared<buffered_stdout_sink>();
  auto logger = std::make_shared<spdlog::logger>("mlnetpol", sink);
  const char* pattern = format == log_format::json
                            ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})"
                            : "%Y-%m-%dT%H:%M:%S.%fZ %l %v";
  logger->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc, "\n"));
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

void event(spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<field> fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  spdlog::memory_buf_t line;
  if (current_format.load(std::memory_order_relaxed) == log_format::json) {
    line.append(std::string_view("\"msg\":"));
    append_json_string(line, msg);
    for (const auto& f : fields) {
      line.push_back(',');
      append_json_string(line, f.key);
      line.push_back(':');
      if (!append_number(line, f)) append_json_string(line, f.text);
    }
  } else {
    line.append(msg.data(), msg.data() + msg.size());
    for (const auto& f : fields) {
      line.push_back(' ');
      line.append(f.key.data(), f.key.data() + f.key.size());
      line.push_back('=');
      if (!append_number(line, f)) append_text_value(line, f.text);
    }
  }
  logger->log(level, std::string_view(line.data(), line.size()));
}

void flush() {
  spdlog::default_logger_raw()->flush();
}

}  // namespace mlnetpol::obs::logging
