#include "policy/render/hash.hpp"

namespace mlnetpol::policy::render {

std::uint64_t fnv1a_64(std::string_view data) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // offset basis
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}

std::string spec_hash(std::string_view spec_json) {
  static constexpr char digits[] = "0123456789abcdef";
  std::uint64_t h = fnv1a_64(spec_json);
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[h & 0xF];
    h >>= 4;
  }
  return out;
}

}  // namespace mlnetpol::policy::render
