#pragma once
// The serving certificate: PEM files -> an SSL_CTX (TLS 1.2/1.3, Mozilla "intermediate" ciphers,
// ALPN http/1.1), re-read when the files change. Each session keeps the context it started with,
// so swapping the pointer gives new handshakes the new pair without touching open connections.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <vector>

#include <openssl/ssl.h>
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

// The error starts with what was wrong: "certificate: ...", "private key: ...", "client CA: ...".
// With a client CA bundle (PEM), the context requires a client certificate that chains to one of
// its certificates: a client without one fails the handshake with a TLS alert.
result<tls_material> make_tls_context(std::string_view cert_pem, std::string_view key_pem,
                                      std::string_view client_ca_pem = {});
// The certificates of a client CA bundle; an error when it holds none or one does not parse.
result<int> check_client_ca(std::string_view client_ca_pem);

// After a handshake on a context with a client CA: "" when the peer presented a certificate that
// verified and (when `allowed` is not empty) whose subject CN or one of its DNS SANs is in
// `allowed` (exact match); otherwise why not, for a 403.
std::string client_refusal(SSL* ssl, const std::vector<std::string>& allowed);

class certificate_store {
 public:
  // What a reload did; its error says why the new pair was rejected (or could not be read).
  enum class status { unchanged, reloaded };

  // client_ca_file: "" or the PEM bundle clients' certificates must chain to (--client-ca-file).
  certificate_store(std::string cert_file, std::string key_file, std::string client_ca_file = {});

  // Reads the files (following symlinks, as a Secret volume swaps them) and builds a new context
  // when their bytes differ from the ones in use. A set that fails is remembered so the same bad
  // files are reported once, not on every poll. Without pair files, re-reads only the client CA
  // and combines it with the last pair given to load_pem (unchanged while there is none).
  result<status> reload();
  // Puts a pair given as PEM bytes in force (the certificate manager's Secret), the same way
  // (with the client CA file read now).
  result<status> load_pem(std::string_view cert_pem, std::string_view key_pem);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  bool loaded() const;
  tls_material material() const;
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }
  const std::string& client_ca_file() const { return client_ca_file_; }

 private:
  std::string cert_file_;
  std::string key_file_;
  std::string client_ca_file_;
  result<status> build(std::string_view cert, std::string_view key, std::string_view ca);
  mutable std::mutex mutex_;
  std::string pem_cert_;  // the pair given to load_pem, for client CA reloads without pair files
  std::string pem_key_;
  tls_material current_;
  std::string loaded_bytes_;    // cert + key + client CA in use
  std::string rejected_bytes_;  // cert + key + client CA of the last set that failed
};

}  // namespace mlnetpol::server
