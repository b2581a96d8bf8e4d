#include "common/base64.hpp"

#include <array>
#include <cstdint>

namespace mlnetpol {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto decode_table = make_decode_table();

}  // namespace

char* base64_put(char* p, std::string_view data) {
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v =
        (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    *p++ = alphabet[(v >> 18) & 63];
    *p++ = alphabet[(v >> 12) & 63];
    *p++ = alphabet[(v >> 6) & 63];
    *p++ = alphabet[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest != 0) {
    std::uint32_t v = std::uint32_t{in[i]} << 16;
    if (rest == 2) v |= std::uint32_t{in[i + 1]} << 8;
    *p++ = alphabet[(v >> 18) & 63];
    *p++ = alphabet[(v >> 12) & 63];
    *p++ = rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    *p++ = '=';
  }
  return p;
}

void base64_append(std::string& out, std::string_view data) {
  const std::size_t start = out.size();
  out.resize(start + base64_encoded_size(data.size()));
  base64_put(out.data() + start, data);
}

std::string base64_encode(std::string_view data) {
  std::string out;
  base64_append(out, data);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text, base64_form form) {
  const bool strict = form == base64_form::strict;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int count = 0;    // characters of the group of four not yet written out
  int padding = 0;  // '=' seen: only more of them may follow
  for (const char c : text) {
    if (!strict && (c == ' ' || c == '\n' || c == '\r' || c == '\t')) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const std::int8_t d = decode_table[static_cast<unsigned char>(c)];
    if (d < 0 || padding > 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(d);
    if (++count == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1 || padding > 2 || (padding > 0 && count + padding != 4)) return std::nullopt;
  if (strict && count != 0 && padding == 0) return std::nullopt;
  // Strict rejects non-canonical encodings (stray bits in the last character) like Go's
  // StdEncoding.Strict; lenient ignores them like StdEncoding, which kubectl uses.
  if (count == 2) {
    if (strict && (bits & 0xf) != 0) return std::nullopt;
    out.push_back(static_cast<char>((bits >> 4) & 0xff));
  } else if (count == 3) {
    if (strict && (bits & 0x3) != 0) return std::nullopt;
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return out;
}

}  // namespace mlnetpol
