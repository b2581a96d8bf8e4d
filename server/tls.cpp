#include "server/tls.hpp"

#include "common/files.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace mlnetpol::server {
namespace {

std::string openssl_error(std::string_view what) {
  std::string message(what);
  unsigned long code = 0;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    message += first ? ": " : "; ";
    message += buf;
    first = false;
  }
  return message;
}

// Answers http/1.1 when offered; a client offering only other protocols proceeds without ALPN.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned i = 0; i < inlen;) {
    const unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof http11 && std::memcmp(in + i + 1, http11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

result<tls_material> make_tls_context(std::string_view cert_pem, std::string_view key_pem) {
  namespace ssl = boost::asio::ssl;
  tls_material r;
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, intermediate_ciphers) != 1) {
    return fail(openssl_error("cipher list"));
  }
  SSL_CTX_set1_groups_list(native, "X25519:prime256v1:secp384r1");
  SSL_CTX_set_dh_auto(native, 1);  // DHE-RSA suites with built-in ffdhe groups
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(cert_pem.data(), cert_pem.size()), ec);
  if (ec) {
    return fail(openssl_error("certificate: " + ec.message()));
  }
  ctx->use_private_key(boost::asio::buffer(key_pem.data(), key_pem.size()), ssl::context::pem, ec);
  if (ec) {
    return fail(openssl_error("private key: " + ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail(openssl_error("the private key does not match the certificate"));
  }
  X509* leaf = SSL_CTX_get0_certificate(native);
  if (leaf == nullptr) {
    return fail("certificate: no certificate in the file");
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1) r.not_after = double(timegm(&tm));
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      r.serial_hex = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  r.context = std::move(ctx);
  return r;
}

certificate_store::certificate_store(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

certificate_store::reload_result certificate_store::reload() {
  auto cert_read = files::read(cert_file_);
  auto key_read =
      cert_read ? files::read(key_file_) : mlnetpol::result<std::string>(cert_read.error());
  if (!key_read) {
    reload_result result;
    result.outcome = status::failed;
    result.error = key_read.error().message;
    return result;
  }
  reload_result result = load_pem(*cert_read, *key_read);
  if (result.outcome == status::failed) result.error = cert_file_ + " / " + key_file_ + ": " + result.error;
  return result;
}

certificate_store::reload_result certificate_store::load_pem(std::string_view cert,
                                                             std::string_view key) {
  reload_result result;
  std::string both(cert);
  both += '\0';
  both += key;
  {
    std::lock_guard lock(mutex_);
    if (both == loaded_bytes_) return result;
    if (both == rejected_bytes_) return result;  // already reported
  }
  auto made = make_tls_context(cert, key);
  std::lock_guard lock(mutex_);
  if (!made) {
    rejected_bytes_ = std::move(both);
    result.outcome = status::failed;
    result.error = made.error().message;
    return result;
  }
  current_ = std::move(*made);
  loaded_bytes_ = std::move(both);
  rejected_bytes_.clear();
  result.outcome = status::reloaded;
  return result;
}

std::shared_ptr<boost::asio::ssl::context> certificate_store::current() const {
  std::lock_guard lock(mutex_);
  return current_.context;
}

bool certificate_store::loaded() const {
  std::lock_guard lock(mutex_);
  return current_.context != nullptr;
}

tls_material certificate_store::material() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace mlnetpol::server
