#include "policy/name_rules.hpp"

#include <algorithm>
#include <cctype>

namespace mlnetpol::policy {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters.
bool is_name_part(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A decimal number of at most 3 digits and at most max, without leading zeros.
bool parse_small_uint(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty() || s.size() > 3) return false;
  if (s.size() > 1 && s.front() == '0') return false;
  out = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return out <= max;
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  while (true) {
    const std::size_t dot = s.find('.');
    unsigned octet = 0;
    if (!parse_small_uint(s.substr(0, dot), 255, octet)) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return parts == 4;
}

bool is_ipv6(std::string_view s) {
  if (s.find(':') == std::string_view::npos) return false;
  const std::size_t gap = s.find("::");
  if (gap != std::string_view::npos && s.find("::", gap + 1) != std::string_view::npos)
    return false;
  if (s.find(":::") != std::string_view::npos) return false;
  // A single leading or trailing colon is not part of a "::".
  if (s.front() == ':' && gap != 0) return false;
  if (s.back() == ':' && (gap == std::string_view::npos || gap + 2 != s.size())) return false;
  int groups = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ':') {
      ++i;
      continue;
    }
    std::size_t n = 0;
    while (i + n < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + n]))) ++n;
    if (n == 0 || n > 4) return false;
    ++groups;
    i += n;
    if (i < s.size() && s[i] != ':') return false;
  }
  return gap == std::string_view::npos ? groups == 8 : groups < 8;
}

bool is_cidr_of(std::string_view s, bool v4) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view address = s.substr(0, slash);
  unsigned bits = 0;
  return (v4 ? is_ipv4(address) : is_ipv6(address)) &&
         parse_small_uint(s.substr(slash + 1), v4 ? 32 : 128, bits);
}

}  // namespace

bool is_dns1123_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view part =
        s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!is_dns1123_label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_qualified_name(std::string_view s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return is_name_part(s);
  return is_dns1123_subdomain(s.substr(0, slash)) && is_name_part(s.substr(slash + 1));
}

bool is_label_value(std::string_view s) {
  return s.empty() || is_name_part(s);
}

bool is_ipv4_cidr(std::string_view s) {
  return is_cidr_of(s, true);
}

bool is_ipv6_cidr(std::string_view s) {
  return is_cidr_of(s, false);
}

bool is_cidr(std::string_view s) {
  return is_ipv4_cidr(s) || is_ipv6_cidr(s);
}

bool is_port(std::int64_t n) {
  return n >= 1 && n <= 65535;
}

}  // namespace mlnetpol::policy
