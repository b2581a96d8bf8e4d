#pragma once
// Standard base64 (RFC 4648 section 4, with padding), as AdmissionReview.response.patch needs.
#include <optional>
#include <string>
#include <string_view>

namespace mlnetpol::admission {

constexpr std::size_t base64_encoded_size(std::size_t n) {
  return (n + 2) / 3 * 4;
}
// Writes the encoding at p (room for base64_encoded_size(data.size()) bytes); returns the end.
char* base64_put(char* p, std::string_view data);
void base64_append(std::string& out, std::string_view data);
std::string base64_encode(std::string_view data);
// Strict: padding required, no whitespace, no URL alphabet; nullopt on anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mlnetpol::admission
