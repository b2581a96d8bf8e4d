#include "policy/fqdn.hpp"

#include <cctype>

namespace mlnetpol::policy {
namespace {

// Characters Cilium lets `*` stand for: those of a DNS label ([-a-zA-Z0-9_]).
bool is_label_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string_view strip_trailing_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// Glob match inside one label: `*` matches any run of characters (the caller checked they are
// label characters).
bool label_match(std::string_view pattern, std::string_view label) {
  std::size_t p = 0, n = 0;
  std::size_t star_p = std::string_view::npos, star_n = 0;
  while (n < label.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_n = n;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(label[n])) {
      ++p;
      ++n;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;  // the last `*` swallows one more character
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Next label of `s` from `pos` (up to the next dot), advancing pos past the dot.
std::string_view next_label(std::string_view s, std::size_t& pos) {
  const std::size_t dot = s.find('.', pos);
  const std::size_t end = dot == std::string_view::npos ? s.size() : dot;
  std::string_view label = s.substr(pos, end - pos);
  pos = dot == std::string_view::npos ? s.size() + 1 : dot + 1;
  return label;
}

}  // namespace

bool is_fqdn_pattern(std::string_view entry) {
  return entry.find('*') != std::string_view::npos;
}

bool fqdn_pattern_matches(std::string_view pattern, std::string_view name) {
  pattern = strip_trailing_dot(pattern);
  name = strip_trailing_dot(name);
  if (pattern == "*") return true;
  // A name with an empty label is no DNS name (Cilium's regex would take ".x.com" for "*.x.com").
  if (name.empty() || name.front() == '.' || name.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : name) {
    if (c != '.' && !is_label_char(c)) return false;
  }
  // `*` never matches a dot, so names match label by label and must have as many labels.
  std::size_t pp = 0, np = 0;
  while (pp <= pattern.size() && np <= name.size()) {
    if (!label_match(next_label(pattern, pp), next_label(name, np))) return false;
  }
  return pp > pattern.size() && np > name.size();
}

bool fqdn_entry_matches(std::string_view entry, std::string_view name) {
  if (is_fqdn_pattern(entry)) return fqdn_pattern_matches(entry, name);
  entry = strip_trailing_dot(entry);
  name = strip_trailing_dot(name);
  if (entry.size() != name.size() || entry.empty()) return false;
  for (std::size_t i = 0; i < entry.size(); ++i) {
    if (lower(entry[i]) != lower(name[i])) return false;
  }
  return true;
}

std::string fqdn_entry_error(std::string_view entry) {
  if (entry.empty()) return "empty FQDN entry";
  if (entry.size() > 255) return "FQDN entry longer than 255 characters";
  const bool pattern = is_fqdn_pattern(entry);
  // The CRD's pattern: ^([-a-zA-Z0-9_*]+[.]?)+$ (without `*` for matchName): labels of allowed
  // characters separated by single dots, an optional trailing dot.
  bool label_open = false;
  for (char c : entry) {
    if (c == '.') {
      if (!label_open) return "FQDN entry '" + std::string(entry) + "' has an empty label";
      label_open = false;
    } else if (is_label_char(c) || (pattern && c == '*')) {
      label_open = true;
    } else {
      return "FQDN entry '" + std::string(entry) + "' has the character '" + std::string(1, c) +
             "' (allowed: letters, digits, '-', '_', '.', '*')";
    }
  }
  return {};
}

}  // namespace mlnetpol::policy
