#pragma once
// A RapidJSON output stream that appends to a std::string, so a Writer can fill a caller-reserved
// buffer and the result needs no copy out of a StringBuffer.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/allocators.h>
#include <rapidjson/writer.h>

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

// A Writer whose nesting stack is carved from a caller's buffer (a MemoryPoolAllocator over it), so
// writing a shallow document such as an AdmissionReview response allocates nothing but the output.
using pooled_string_writer = rapidjson::Writer<string_output, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                               rapidjson::MemoryPoolAllocator<>>;

// Appends s as the inside of a JSON string, escaped exactly as RapidJSON's Writer escapes it
// (\" \\ \b \t \n \f \r, other controls as \u00XX, everything else as is), copying runs of
// plain bytes at once instead of one Put per character.
inline void append_json_escaped(std::string& out, std::string_view s) {
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
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    // Eight bytes at a time: skip them when none is a control character, a quote or a backslash,
    // else go straight to the first one that is (the lowest flagged byte is always a real one).
    if (s.size() - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      constexpr std::uint64_t ones = 0x0101010101010101ULL;
      constexpr std::uint64_t highs = 0x8080808080808080ULL;
      const std::uint64_t quote = word ^ (ones * '"');
      const std::uint64_t backslash = word ^ (ones * '\\');
      const std::uint64_t special = (((word - ones * 0x20) & ~word) | ((quote - ones) & ~quote) |
                                     ((backslash - ones) & ~backslash)) &
                                    highs;
      if (special == 0) {
        i += 8;
        continue;
      }
      i += static_cast<std::size_t>(std::countr_zero(special)) / 8;
    }
    const char e = escape[static_cast<unsigned char>(s[i])];
    if (e == 0) {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    const char seq[6] = {'\\',
                         e,
                         '0',
                         '0',
                         hex[static_cast<unsigned char>(s[i]) >> 4],
                         hex[static_cast<unsigned char>(s[i]) & 0xF]};
    out.append(seq, e == 'u' ? 6 : 2);
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
}

// Writes s as a string value or key through w (which places the separator), with the characters
// appended straight to out, the string w writes to.
template <typename Writer>
void write_string(Writer& w, std::string& out, std::string_view s) {
  w.RawValue("\"", 1, rapidjson::kStringType);
  append_json_escaped(out, s);
  out.push_back('"');
}

}  // namespace mlnetpol::admission
