#pragma once
// The scan the JSON string escaper (common/json_escape.hpp) runs over every string byte: which
// bytes need escaping (controls below 0x20, '"' and '\\'), tested a block at a time instead of one
// byte at a time. Byte i of a block is the i-th byte in memory (the blocks are read little-endian,
// as on every platform mlnetpol builds for).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mlnetpol::json {

// The high bit of each of the eight bytes of word that needs escaping. Only the lowest set bit is
// sure to be a real one (a borrow runs upwards into the bytes after it), so callers look no
// further than the first.
inline std::uint64_t escape_bytes8(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  const std::uint64_t quote = word ^ (ones * '"');
  const std::uint64_t backslash = word ^ (ones * '\\');
  return (((word - ones * 0x20) & ~word) | ((quote - ones) & ~quote) |
          ((backslash - ones) & ~backslash)) &
         highs;
}

inline constexpr std::size_t plain_block = 16;

// How many of the plain_block bytes at p come before the first one that needs escaping
// (plain_block when none does). A vector compare where the compiler has one (SSE2, NEON).
inline std::size_t plain_prefix16(const char* p) {
  using block = unsigned char __attribute__((vector_size(plain_block)));
  block v;
  std::memcpy(&v, p, sizeof v);
  const auto special = (v < 0x20) | (v == '"') | (v == '\\');  // 0xff per such byte
  std::uint64_t low;
  std::uint64_t high;
  std::memcpy(&low, &special, sizeof low);
  std::memcpy(&high, reinterpret_cast<const char*>(&special) + sizeof low, sizeof high);
  if (low != 0) return static_cast<std::size_t>(std::countr_zero(low)) / 8;
  if (high != 0) return 8 + static_cast<std::size_t>(std::countr_zero(high)) / 8;
  return plain_block;
}

// Copies the bytes from in that need no escaping to p, sixteen, then eight, at a time, and
// advances both: stops at the first byte that needs escaping or with fewer than eight bytes left.
// Whole blocks are stored, so p must have room for sixteen bytes while sixteen are left.
inline void copy_plain_blocks(const char*& in, const char* end, char*& p) {
  while (end - in >= 16) {
    std::memcpy(p, in, plain_block);
    const std::size_t plain = plain_prefix16(in);
    p += plain;
    in += plain;
    if (plain != plain_block) return;
  }
  if (end - in >= 8) {
    std::uint64_t word;
    std::memcpy(&word, in, sizeof word);
    std::memcpy(p, &word, sizeof word);
    const std::uint64_t special = escape_bytes8(word);
    const std::size_t plain =
        special == 0 ? 8 : static_cast<std::size_t>(std::countr_zero(special)) / 8;
    p += plain;
    in += plain;
  }
}

}  // namespace mlnetpol::json
