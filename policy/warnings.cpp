#include "policy/warnings.hpp"

namespace mlnetpol::policy {

std::string truncate_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  constexpr std::string_view ellipsis = "...";
  if (max < ellipsis.size()) return std::string(ellipsis.substr(0, max));
  std::size_t cut = max - ellipsis.size();
  // Back up over UTF-8 continuation bytes so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + std::string(ellipsis);
}

std::vector<std::string> fit_warnings(const std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  std::size_t total = 0;
  for (std::size_t i = 0; i < warnings.size(); ++i) {
    std::string_view text = warnings[i];
    if (text.rfind("Warning:", 0) == 0) text.remove_prefix(8);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::string clean(text);
    for (char& c : clean) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    }
    if (clean.empty()) continue;
    clean = truncate_utf8(clean, max_warning_length);
    // Keep room for the closing "N more warnings omitted" line.
    const std::size_t reserve = i + 1 < warnings.size() ? 40 : 0;
    if (total + clean.size() + reserve > max_warnings_total) {
      out.push_back(std::to_string(warnings.size() - i) + " more warnings omitted");
      break;
    }
    total += clean.size();
    out.push_back(std::move(clean));
  }
  return out;
}

}  // namespace mlnetpol::policy
