#include "common/json_escape.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

using mlnetpol::json::max_escaped;
using mlnetpol::json::put_escaped;

namespace {

// What put_escaped writes for s, through a buffer of exactly max_escaped(s.size()) bytes followed
// by guard bytes that must stay as they were.
std::string escaped(std::string_view s) {
  constexpr std::size_t guard = 32;
  std::vector<char> buffer(max_escaped(s.size()) + guard, '\x5a');
  const char* end = put_escaped(buffer.data(), s);
  const auto written = static_cast<std::size_t>(end - buffer.data());
  REQUIRE(written <= max_escaped(s.size()));
  REQUIRE(std::string_view(buffer.data() + max_escaped(s.size()), guard) ==
          std::string(guard, '\x5a'));
  return {buffer.data(), written};
}

// The inside of the string RapidJSON's Writer writes for s.
std::string rapidjson_escaped(std::string_view s) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  const std::string_view quoted(out.GetString(), out.GetSize());
  return std::string(quoted.substr(1, quoted.size() - 2));
}

}  // namespace

TEST_CASE("put_escaped writes every control byte in RapidJSON's form") {
  const char* const want[0x20] = {
      R"(\u0000)", R"(\u0001)", R"(\u0002)", R"(\u0003)", R"(\u0004)", R"(\u0005)", R"(\u0006)",
      R"(\u0007)", R"(\b)",     R"(\t)",     R"(\n)",     R"(\u000B)", R"(\f)",     R"(\r)",
      R"(\u000E)", R"(\u000F)", R"(\u0010)", R"(\u0011)", R"(\u0012)", R"(\u0013)", R"(\u0014)",
      R"(\u0015)", R"(\u0016)", R"(\u0017)", R"(\u0018)", R"(\u0019)", R"(\u001A)", R"(\u001B)",
      R"(\u001C)", R"(\u001D)", R"(\u001E)", R"(\u001F)"};
  std::string all;
  std::string all_escaped;
  for (int c = 0; c < 0x20; ++c) {
    const std::string one(1, static_cast<char>(c));
    CHECK_MESSAGE(escaped(one) == want[c], "byte ", c);
    all += one;
    all_escaped += want[c];
  }
  CHECK(escaped(all) == all_escaped);
  CHECK(escaped("\"") == R"(\")");
  CHECK(escaped("\\") == R"(\\)");
  CHECK(escaped("\x20/\x7f\xff") == "\x20/\x7f\xff");
  CHECK(escaped("").empty());
}

TEST_CASE("put_escaped escapes every byte as RapidJSON's Writer does") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::vector<std::string> samples = {all,
                                      "",
                                      "plain",
                                      "a\"b\\c\n\x01\x1f\x7f/",
                                      "caf\xc3\xa9 \xe2\x9c\x93",
                                      "0123456\"\"9abcdef\\"};
  // Sixteen, then eight bytes are tested at a time: every byte value at every offset of a run,
  // and after a byte that borrows (0x00) or is high (0xff).
  for (int c = 0; c < 256; ++c) {
    for (std::size_t at = 0; at < 17; ++at) {
      std::string s(19, 'a');
      s[at] = static_cast<char>(c);
      samples.push_back(s);
      if (at + 1 < s.size()) {
        s[at + 1] = '\0';
        samples.push_back(s);
        s[at + 1] = '\xff';
        samples.push_back(s);
      }
    }
  }
  // Strings of four to seven bytes and the last bytes of longer ones are tested with overlapping
  // loads: every byte value at every position of strings of 1 to 40 bytes.
  for (int c = 0; c < 256; ++c) {
    for (std::size_t size = 1; size <= 40; ++size) {
      for (std::size_t at = 0; at < size; ++at) {
        std::string s(size, 'b');
        s[at] = static_cast<char>(c);
        samples.push_back(s);
      }
    }
  }
  for (const auto& s : samples) REQUIRE(escaped(s) == rapidjson_escaped(s));
}
