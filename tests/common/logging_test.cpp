#include "common/obs/logging.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <mutex>

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>

#include <unistd.h>

#include "tests/support/captured_log.hpp"

using namespace mlnetpol::obs;

namespace {
// The line alone, in the format under test, at info.
mlnetpol::testing::captured_log_options line_only(log_format format) {
  return {.format = format, .level = spdlog::level::info, .pattern = "%v"};
}

// A control byte as the line writes it: RapidJSON's short escapes, else \u00XX in upper case.
std::string escaped_control(unsigned char c) {
  switch (c) {
    case '\b':
      return "\\b";
    case '\t':
      return "\\t";
    case '\n':
      return "\\n";
    case '\f':
      return "\\f";
    case '\r':
      return "\\r";
    default: {
      char hex[7];
      std::snprintf(hex, sizeof hex, "\\u%04X", c);
      return hex;
    }
  }
}

// The line event(info, "x", {{"v", value}}) writes in json, escaping one character at a time.
std::string expected_line(const std::string& value) {
  std::string want = "\"msg\":\"x\",\"v\":\"";
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      want += {'\\', ch};
    } else if (c < 0x20) {
      want += escaped_control(c);
    } else {
      want += ch;
    }
  }
  return want + "\"\n";
}
}  // namespace

TEST_CASE("json events are JSON members with escaped values") {
  mlnetpol::testing::captured_log log(line_only(log_format::json));
  logging::event(spdlog::level::info, "admission",
                 {{"uid", "a\"b"}, {"kind", "Pod"}, {"latency_ms", 0.25}, {"code", 200}});
  CHECK(log.text() ==
        "\"msg\":\"admission\",\"uid\":\"a\\\"b\",\"kind\":\"Pod\",\"latency_ms\":0.250,\"code\":"
        "200\n");
}

TEST_CASE("json escapes control characters, quotes and backslashes inside runs") {
  mlnetpol::testing::captured_log log(line_only(log_format::json));
  logging::event(spdlog::level::info, "x", {{"v", "ab\ncd\"e\\f\x01"}});
  CHECK(log.text() == "\"msg\":\"x\",\"v\":\"ab\\ncd\\\"e\\\\f\\u0001\"\n");
}

TEST_CASE("json escapes every control character as the AdmissionReview response does") {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  mlnetpol::testing::captured_log log(line_only(log_format::json));
  logging::event(spdlog::level::info, "x", {{"v", controls}});
  CHECK(log.text() ==
        "\"msg\":\"x\",\"v\":\""
        R"(\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000B\f\r\u000E\u000F)"
        R"(\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D)"
        R"(\u001E\u001F")"
        "\n");
}

TEST_CASE("json escaping is the same for every byte at every position of an eight-byte run") {
  // The escaper tests eight bytes at a time: each byte value is put at each offset of a long
  // plain string and the line compared with escaping one character at a time.
  for (int c = 0; c < 256; ++c) {
    for (std::size_t at = 0; at < 17; ++at) {
      std::string value(19, 'a');
      value[at] = static_cast<char>(c);
      mlnetpol::testing::captured_log log(line_only(log_format::json));
      logging::event(spdlog::level::info, "x", {{"v", value}});
      REQUIRE_MESSAGE(log.text() == expected_line(value), "byte ", c, " at ", at);
    }
  }
}

TEST_CASE("json escaping is the same for every string length and position of a special byte") {
  // Short strings and the last bytes of longer ones are tested with overlapping loads: each
  // special byte (and a plain one) at each position of strings of 1 to 20 bytes.
  for (const unsigned char c : {0x00, 0x01, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0xff, 0x61}) {
    for (std::size_t size = 1; size <= 20; ++size) {
      for (std::size_t at = 0; at < size; ++at) {
        std::string value(size, 'b');
        value[at] = static_cast<char>(c);
        mlnetpol::testing::captured_log log(line_only(log_format::json));
        logging::event(spdlog::level::info, "x", {{"v", value}});
        REQUIRE_MESSAGE(log.text() == expected_line(value), "byte ", int{c}, " at ", at, " of ",
                        size);
      }
    }
  }
}

TEST_CASE("numbers beyond the thousandths fast path are written in full") {
  mlnetpol::testing::captured_log log(line_only(log_format::json));
  logging::event(spdlog::level::info, "x", {{"a", 1e20}, {"b", -2.5}, {"c", 0}});
  CHECK(log.text() == "\"msg\":\"x\",\"a\":100000000000000000000.000,\"b\":-2.500,\"c\":0\n");
}

TEST_CASE("text events are key=value, quoted when needed") {
  mlnetpol::testing::captured_log log(line_only(log_format::text));
  logging::event(spdlog::level::info, "admission",
                 {{"uid", "u-1"}, {"name", "two words"}, {"namespace", ""}, {"latency_ms", 1.5}});
  CHECK(log.text() == "admission uid=u-1 name=\"two words\" namespace=\"\" latency_ms=1.500\n");
}

TEST_CASE("text values with a newline or tab are quoted with JSON's escapes") {
  mlnetpol::testing::captured_log log(line_only(log_format::text));
  logging::event(spdlog::level::info, "x", {{"a", "one\ntwo"}, {"b", "\t"}, {"c", "k=\"v\"\x01"}});
  CHECK(log.text() == "x a=\"one\\ntwo\" b=\"\\t\" c=\"k=\\\"v\\\"\\u0001\"\n");
}

TEST_CASE("events below the level are dropped") {
  mlnetpol::testing::captured_log log(line_only(log_format::json));
  logging::event(spdlog::level::debug, "noise", {});
  CHECK(log.text().empty());
  CHECK_FALSE(logging::enabled(spdlog::level::debug));
  CHECK(logging::enabled(spdlog::level::warn));
}

TEST_CASE("booleans are bare in both formats") {
  {
    mlnetpol::testing::captured_log log(line_only(log_format::json));
    logging::event(spdlog::level::info, "x", {{"dry_run", true}, {"b", false}});
    CHECK(log.text() == "\"msg\":\"x\",\"dry_run\":true,\"b\":false\n");
  }
  mlnetpol::testing::captured_log log(line_only(log_format::text));
  logging::event(spdlog::level::info, "x", {{"dry_run", false}});
  CHECK(log.text() == "x dry_run=false\n");
}

TEST_CASE("log_denies is a switch, on by default") {
  CHECK(logging::log_denies());
  logging::set_log_denies(false);
  CHECK_FALSE(logging::log_denies());
  logging::set_log_denies(true);
  CHECK(logging::log_denies());
}

TEST_CASE("the stdout line: UTC timestamp to the microsecond, level, then the event") {
  const auto previous = spdlog::default_logger();
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture != nullptr);
  dup2(fileno(capture), STDOUT_FILENO);
  logging::setup(log_format::json, "info");
  logging::event(spdlog::level::info, "hello", {{"k", "v"}});
  logging::event(spdlog::level::warn, "again", {});
  logging::setup(log_format::text, "info");
  logging::event(spdlog::level::err, "text", {{"n", 1}});
  logging::flush();
  std::fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  spdlog::set_default_logger(previous);
  std::rewind(capture);
  std::string out;
  char chunk[512];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, capture)) out.append(chunk, n);
  std::fclose(capture);
  const std::string ts = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)";
  const std::regex want("\\{\"ts\":\"" + ts + R"(","level":"info","msg":"hello","k":"v"\}\n)" +
                        "\\{\"ts\":\"" + ts + R"(","level":"warn","msg":"again"\}\n)" + ts +
                        " error text n=1\n");
  CHECK_MESSAGE(std::regex_match(out, want), out);
}

TEST_CASE("real numbers are written with three decimals") {
  mlnetpol::testing::captured_log log(line_only(log_format::text));
  logging::event(spdlog::level::info, "x",
                 {{"a", 0.0}, {"b", 0.0004}, {"c", 0.0125}, {"d", 12345.6789}, {"e", -2.5}});
  CHECK(log.text() == "x a=0.000 b=0.000 c=0.013 d=12345.679 e=-2.500\n");
}
