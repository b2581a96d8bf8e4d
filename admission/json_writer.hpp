#pragma once
// A RapidJSON output stream that appends to a std::string, so a Writer can fill a caller-reserved
// buffer and the result needs no copy out of a StringBuffer; and JSON string escaping, exactly as
// the Writer does it, for code that writes its JSON by hand.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/writer.h>

#include "common/json_scan.hpp"

namespace mlnetpol::admission {

class string_output {
 public:
  using Ch = char;
  explicit string_output(std::string& out) : out_(&out) {}
  void Put(char c) { out_->push_back(c); }
  void Flush() {}
  std::string& str() { return *out_; }

 private:
  std::string* out_;
};

using string_writer = rapidjson::Writer<string_output>;

// The most put_json_escaped writes for n bytes: each escaped as \u00XX.
constexpr std::size_t max_json_escaped(std::size_t n) {
  return 6 * n;
}

// Writes s as the inside of a JSON string at p, escaped exactly as RapidJSON's Writer escapes it
// (\" \\ \b \t \n \f \r, other controls as \u00XX, everything else as is), and returns the end.
// p must have room for max_json_escaped(s.size()) bytes: plain runs are stored a block at a time
// (json::copy_plain_blocks), without a capacity check per character.
inline char* put_json_escaped(char* p, std::string_view s) {
  static constexpr auto escape = [] {
    std::array<char, 256> table{};
    for (int c = 0; c < 0x20; ++c) table[c] = 'u';
    table['\b'] = 'b';
    table['\t'] = 't';
    table['\n'] = 'n';
    table['\f'] = 'f';
    table['\r'] = 'r';
    table['"'] = '"';
    table['\\'] = '\\';
    return table;
  }();
  static constexpr char hex[] = "0123456789ABCDEF";
  const char* in = s.data();
  const char* const end = in + s.size();
  while (in != end) {
    json::copy_plain_blocks(in, end, p);
    if (in == end) break;
    const auto u = static_cast<unsigned char>(*in++);
    const char e = escape[u];
    if (e == 0) {
      *p++ = static_cast<char>(u);
      continue;
    }
    *p++ = '\\';
    *p++ = e;
    if (e == 'u') {
      *p++ = '0';
      *p++ = '0';
      *p++ = hex[u >> 4];
      *p++ = hex[u & 0xF];
    }
  }
  return p;
}

// Appends s as the inside of a JSON string, escaped as put_json_escaped does: a chunk at a time
// through a stack buffer, so out only grows by what is written (nothing zero-filled first).
inline void append_json_escaped(std::string& out, std::string_view s) {
  constexpr std::size_t chunk = 128;
  char buffer[max_json_escaped(chunk)];
  for (std::size_t at = 0; at < s.size(); at += chunk) {
    const char* end = put_json_escaped(buffer, s.substr(at, chunk));
    out.append(buffer, static_cast<std::size_t>(end - buffer));
  }
}

}  // namespace mlnetpol::admission
