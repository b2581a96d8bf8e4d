#pragma once
// Structured logging on spdlog: one line per event as JSON (`--log-format json`) or key=value text.
// Lines are buffered, not flushed one by one (the request path must stay cheap): warnings and
// errors flush at once, everything else within a second (spdlog::flush_every).
#include <initializer_list>
#include <string_view>

#include <cstdint>

#include <spdlog/spdlog.h>


namespace mlnetpol::obs {

enum class log_format { json, text };

}  // namespace mlnetpol::obs

namespace mlnetpol::obs::logging {

struct field {
  field(std::string_view k, std::string_view v) : key(k), text(v) {}
  field(std::string_view k, const char* v) : key(k), text(v) {}
  field(std::string_view k, double v) : key(k), number(v), kind(type::real) {}
  field(std::string_view k, std::uint64_t v)
      : key(k), integer(static_cast<std::int64_t>(v)), kind(type::integer) {}
  field(std::string_view k, int v) : key(k), integer(v), kind(type::integer) {}
  field(std::string_view k, bool v) : key(k), integer(v ? 1 : 0), kind(type::boolean) {}
  enum class type { text, integer, real, boolean };
  std::string_view key;
  std::string_view text;
  double number = 0;  // written with 3 decimals (milliseconds to the microsecond)
  std::int64_t integer = 0;
  type kind = type::text;
};

// Installs the process-wide logger (stdout, UTC timestamps) in the given format and level.
void setup(log_format format, std::string_view level);

// Logs `msg` with fields through the default spdlog logger, in the configured format.
void event(spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<field> fields);

inline bool enabled(spdlog::level::level_enum level) {
  return spdlog::default_logger_raw()->should_log(level);
}

void flush();

// Admission decisions are logged at debug; with log_denies (`--log-denies`, on by default) the
// ones with a violation (denied, warned, audited) at info.
void set_log_denies(bool on);
bool log_denies();

}  // namespace mlnetpol::obs::logging
