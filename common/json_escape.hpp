#pragma once
// JSON string escaping, byte for byte as RapidJSON's Writer does it, for the JSON mlnetpol writes
// by hand: the AdmissionReview response (admission/codec.cpp) and the log line
// (common/obs/logging.cpp).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/json_scan.hpp"

namespace mlnetpol::json {

// The most put_escaped writes for n bytes: each escaped as \u00XX.
constexpr std::size_t max_escaped(std::size_t n) {
  return 6 * n;
}

// Writes s as the inside of a JSON string at p, escaped exactly as RapidJSON's Writer escapes it
// (\" \\ \b \t \n \f \r, other controls as \u00XX, everything else as is), and returns the end.
// p must have room for max_escaped(s.size()) bytes: plain runs are stored a block at a time,
// without a capacity check per character. Always inlined: a log line has some thirty strings,
// most a few bytes long, and a call per string cost as much as escaping it.
[[gnu::always_inline]] inline char* put_escaped(char* p, std::string_view s) {
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
  // Four to seven bytes (most keys and many values): two overlapping four-byte loads cover them.
  if (s.size() >= 4 && s.size() < 8) {
    std::uint32_t head;
    std::uint32_t tail;
    std::memcpy(&head, in, sizeof head);
    std::memcpy(&tail, end - 4, sizeof tail);
    if (escape_bytes8(head | (std::uint64_t{tail} << 32)) == 0) {
      std::memcpy(p, &head, sizeof head);
      std::memcpy(p + s.size() - 4, &tail, sizeof tail);
      return p + s.size();
    }
  }
  while (in != end) {
    copy_plain_blocks(in, end, p);
    if (in == end) break;
    if (s.size() >= 8 && end - in < 8) {
      // The last few bytes of a longer string: when its last eight are all plain, the ones
      // before `in` among them were copied as they are, so the eight go out in one store.
      std::uint64_t word;
      std::memcpy(&word, end - 8, sizeof word);
      if (escape_bytes8(word) == 0) {
        const auto rest = static_cast<std::size_t>(end - in);
        std::memcpy(p - (8 - rest), &word, sizeof word);
        return p + rest;
      }
    }
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

}  // namespace mlnetpol::json
