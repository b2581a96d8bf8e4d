#pragma once
// Standard base64 (RFC 4648 section 4, with padding): AdmissionReview.response.patch, Secret data
// and kubeconfig "-data" fields all carry it.
#include <optional>
#include <string>
#include <string_view>

namespace mlnetpol {

constexpr std::size_t base64_encoded_size(std::size_t n) {
  return (n + 2) / 3 * 4;
}
// Writes the encoding at p (room for base64_encoded_size(data.size()) bytes); returns the end.
char* base64_put(char* p, std::string_view data);
void base64_append(std::string& out, std::string_view data);
std::string base64_encode(std::string_view data);

// What a decoder accepts besides canonical padded text in the standard alphabet.
enum class base64_form {
  // Nothing else: what the API server sends and what AdmissionReview patches are.
  strict,
  // Also spaces, tabs and line breaks anywhere (skipped), missing padding and stray bits in the
  // last character, as people and tools write kubeconfig "-data" fields.
  lenient,
};
// nullopt when the text is not base64 of that form.
std::optional<std::string> base64_decode(std::string_view text,
                                         base64_form form = base64_form::strict);

}  // namespace mlnetpol
