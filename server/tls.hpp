#pragma once
// The serving certificate: PEM files -> an SSL_CTX (TLS 1.2/1.3, Mozilla "intermediate" ciphers,
// ALPN http/1.1), re-read when the files change. Each session keeps the context it started with,
// so swapping the pointer gives new handshakes the new pair without touching open connections.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "common/result.hpp"

namespace mlnetpol::server {

struct tls_material {
  std::shared_ptr<boost::asio::ssl::context> context;
  double not_after = 0;    // Unix seconds
  std::string serial_hex;  // of the leaf certificate, for logs
};

// Mozilla "intermediate" (v5.7) TLS 1.2 suites; TLS 1.3 keeps OpenSSL's default suites, which are
// exactly Mozilla's list.
inline constexpr const char* intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// The error starts with what was wrong: "certificate: ...", "private key: ...".
result<tls_material> make_tls_context(std::string_view cert_pem, std::string_view key_pem);

class certificate_store {
 public:
  enum class status { unchanged, reloaded, failed };
  struct reload_result {
    status outcome = status::unchanged;
    std::string error;  // why the new pair was rejected (or could not be read)
  };

  certificate_store(std::string cert_file, std::string key_file);

  // Reads both files (following symlinks, as a Secret volume swaps them) and builds a new context
  // when their bytes differ from the pair in use. A pair that fails is remembered so the same bad
  // files are reported once, not on every poll.
  reload_result reload();
  // Puts a pair given as PEM bytes in force (the certificate manager's Secret), the same way.
  reload_result load_pem(std::string_view cert_pem, std::string_view key_pem);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  bool loaded() const;
  tls_material material() const;
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }

 private:
  std::string cert_file_;
  std::string key_file_;
  mutable std::mutex mutex_;
  tls_material current_;
  std::string loaded_bytes_;    // cert + key of the pair in use
  std::string rejected_bytes_;  // cert + key of the last pair that failed
};

}  // namespace mlnetpol::server
