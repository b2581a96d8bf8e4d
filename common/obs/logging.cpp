#include "common/obs/logging.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

#include <unistd.h>

#include <spdlog/sinks/base_sink.h>

namespace mlnetpol::obs::logging {
namespace {

std::atomic<log_format> current_format{log_format::json};

// An event's fields, laid out on the stack: room for a decision line (about 400 bytes) without a
// heap allocation.
using line_buffer = fmt::basic_memory_buffer<char, 1024>;
std::atomic<bool> denies_at_info{true};

// Level names as --log-level spells them (spdlog says "warning" and "critical").
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// stdout without spdlog's fflush after every line; the stdio buffer is flushed on warn and every
// second instead. The line is laid out here rather than by a pattern_formatter: the timestamp's
// "YYYY-MM-DDTHH:MM:SS." is formatted once per second, so a line costs a few copies.
class buffered_stdout_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit buffered_stdout_sink(log_format format) : format_(format) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    using namespace std::chrono;
    const auto since_epoch = msg.time.time_since_epoch();
    const auto second = duration_cast<seconds>(since_epoch);
    if (second.count() != cached_second_) {
      cached_second_ = second.count();
      const std::time_t t = static_cast<std::time_t>(cached_second_);
      std::tm tm{};
      gmtime_r(&t, &tm);
      cached_length_ = std::strftime(cached_, sizeof cached_, "%Y-%m-%dT%H:%M:%S.", &tm);
    }
    auto micros = static_cast<unsigned>(duration_cast<microseconds>(since_epoch - second).count());
    char fraction[7];
    for (int i = 5; i >= 0; --i) {
      fraction[i] = static_cast<char>('0' + micros % 10);
      micros /= 10;
    }
    fraction[6] = 'Z';
    const std::string_view level = level_name(msg.level);
    line_.clear();
    if (format_ == log_format::json) line_.append(std::string_view(R"({"ts":")"));
    line_.append(cached_, cached_ + cached_length_);
    line_.append(fraction, fraction + sizeof fraction);
    if (format_ == log_format::json) {
      line_.append(std::string_view(R"(","level":")"));
      line_.append(level.data(), level.data() + level.size());
      line_.append(std::string_view("\","));
    } else {
      line_.push_back(' ');
      line_.append(level.data(), level.data() + level.size());
      line_.push_back(' ');
    }
    line_.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    if (format_ == log_format::json) line_.push_back('}');
    line_.push_back('\n');
    std::fwrite(line_.data(), 1, line_.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }

 private:
  const log_format format_;
  spdlog::memory_buf_t line_;  // reused; guarded by the sink's mutex
  std::int64_t cached_second_ = -1;
  char cached_[32] = {};
  std::size_t cached_length_ = 0;
};

void append_json_string(line_buffer& out, std::string_view s) {
  out.push_back('"');
  // Copy runs of plain characters at once; only quotes, backslashes and controls need escaping.
  static constexpr auto plain = [] {
    std::array<bool, 256> table{};
    for (int c = 0x20; c < 256; ++c) table[c] = c != '"' && c != '\\';
    return table;
  }();
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (plain[u]) continue;
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

void append_text_value(line_buffer& out, std::string_view s) {
  const bool quote = s.empty() || s.find_first_of(" \t\"=\n") != std::string_view::npos;
  if (!quote) {
    out.append(s.data(), s.data() + s.size());
    return;
  }
  append_json_string(out, s);  // JSON string escaping is a fine quoting rule for text too
}

// Numbers are the same in both formats; text values are quoted per format.
bool append_number(line_buffer& out, const field& f) {
  if (f.kind == field::type::integer) {
    fmt::format_to(std::back_inserter(out), "{}", f.integer);
  } else if (f.kind == field::type::boolean) {
    out.append(f.integer != 0 ? std::string_view("true") : std::string_view("false"));
  } else if (f.kind == field::type::real) {
    // Latencies: thousandths as an integer, written by hand (fmt's float path costs far more).
    const double thousandths = std::round(f.number * 1000);
    if (std::isfinite(thousandths) && std::fabs(thousandths) < 1e15) {
      auto n = static_cast<std::int64_t>(thousandths);
      if (n < 0) {
        out.push_back('-');
        n = -n;
      }
      fmt::format_to(std::back_inserter(out), "{}", n / 1000);
      const auto frac = static_cast<int>(n % 1000);
      const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                              static_cast<char>('0' + frac / 10 % 10),
                              static_cast<char>('0' + frac % 10)};
      out.append(digits, digits + 4);
    } else {
      fmt::format_to(std::back_inserter(out), "{:.3f}", f.number);
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace

void setup(log_format format, std::string_view level) {
  current_format.store(format);
  if (!isatty(STDOUT_FILENO)) std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
  auto sink = std::make_shared<buffered_stdout_sink>(format);
  auto logger = std::make_shared<spdlog::logger>("mlnetpol", sink);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

void event(spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<field> fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  line_buffer line;
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

void set_log_denies(bool on) {
  denies_at_info.store(on, std::memory_order_relaxed);
}

bool log_denies() {
  return denies_at_info.load(std::memory_order_relaxed);
}

void flush() {
  spdlog::default_logger_raw()->flush();
}

}  // namespace mlnetpol::obs::logging
