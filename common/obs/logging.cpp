#include "common/obs/logging.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include <unistd.h>

#include <spdlog/sinks/base_sink.h>

#include "common/json_escape.hpp"

namespace mlnetpol::obs::logging {
namespace {

std::atomic<log_format> current_format{log_format::json};

// An event's fields, laid out on the stack: room for a decision line's worst case (about 400
// bytes, each of which could need six when escaped) without a heap allocation.
using line_buffer = fmt::basic_memory_buffer<char, 8192>;
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

// The line is written through a raw pointer into a buffer sized beforehand for the worst case
// (every byte escaped as \u00XX), so no append checks capacity: a line is a few stores per field.
constexpr std::size_t max_quoted(std::size_t n) {
  return json::max_escaped(n) + 2;
}
constexpr std::size_t max_number = 32;  // an int64, or thousandths with sign and point
constexpr std::size_t max_real = 320;   // "{:.3f}" of any double

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Inlined into event(), as json::put_escaped is: a call per string would cost as much as escaping
// most of them.
[[gnu::always_inline]] inline char* put_json_string(char* p, std::string_view s) {
  *p++ = '"';
  p = json::put_escaped(p, s);
  *p++ = '"';
  return p;
}

char* put_text_value(char* p, std::string_view s) {
  const bool quote = s.empty() || s.find_first_of(" \t\"=\n") != std::string_view::npos;
  // JSON string escaping is a fine quoting rule for text too.
  return quote ? put_json_string(p, s) : put(p, s);
}

char* put_integer(char* p, std::int64_t n) {
  return fmt::format_to(p, "{}", n);
}

// Numbers are the same in both formats (a field of any kind but text).
char* put_number(char* p, const field& f) {
  if (f.kind == field::type::integer) return put_integer(p, f.integer);
  if (f.kind == field::type::boolean) {
    return put(p, f.integer != 0 ? std::string_view("true") : std::string_view("false"));
  }
  // Latencies: thousandths as an integer, written by hand (fmt's float path costs far more).
  const double thousandths = std::round(f.number * 1000);
  if (!std::isfinite(thousandths) || std::fabs(thousandths) >= 1e15) {
    return fmt::format_to_n(p, max_real, "{:.3f}", f.number).out;
  }
  auto n = static_cast<std::int64_t>(thousandths);
  if (n < 0) {
    *p++ = '-';
    n = -n;
  }
  p = put_integer(p, n / 1000);
  const auto frac = static_cast<int>(n % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                          static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  return put(p, std::string_view(digits, sizeof digits));
}

}  // namespace

void setup(log_format format, std::string_view level) {
  current_format.store(format);
  // A 64 KiB stdio buffer for stdout when it is a file or a pipe: a log write per ~100 decision
  // lines instead of per 4 KiB (glibc ignores the size when it allocates the buffer itself).
  static std::once_flag buffered;
  std::call_once(buffered, [] {
    static char buffer[1 << 16];
    if (!isatty(STDOUT_FILENO)) std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  });
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
  std::size_t bound = 8 + max_quoted(msg.size());
  for (const auto& f : fields)
    bound += 2 + max_quoted(f.key.size()) + max_quoted(f.text.size()) +
             (f.kind == field::type::real ? max_real : max_number);
  line_buffer line;
  line.resize(bound);
  char* p = line.data();
  if (current_format.load(std::memory_order_relaxed) == log_format::json) {
    p = put(p, "\"msg\":");
    p = put_json_string(p, msg);
    for (const auto& f : fields) {
      *p++ = ',';
      p = put_json_string(p, f.key);
      *p++ = ':';
      p = f.kind == field::type::text ? put_json_string(p, f.text) : put_number(p, f);
    }
  } else {
    p = put(p, msg);
    for (const auto& f : fields) {
      *p++ = ' ';
      p = put(p, f.key);
      *p++ = '=';
      p = f.kind == field::type::text ? put_text_value(p, f.text) : put_number(p, f);
    }
  }
  logger->log(level, std::string_view(line.data(), static_cast<std::size_t>(p - line.data())));
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
