#include "server/tls.hpp"

#include "certs/certs.hpp"
#include "common/files.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

// Calls `each` with every certificate of a PEM bundle; an error when one does not parse or
// there is none.
template <typename Each>
result<int> for_each_ca(std::string_view pem, Each&& each) {
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return fail(openssl_error("client CA: reading"));
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    const bool ok = each(cert);
    X509_free(cert);
    if (!ok) {
      BIO_free(bio);
      return fail(openssl_error("client CA: adding certificate " + std::to_string(count + 1)));
    }
    ++count;
  }
  BIO_free(bio);
  // The loop ends at the end of the text (no further BEGIN line) or at a block that is broken.
  const unsigned long last = ERR_peek_last_error();
  if (last != 0 &&
      !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    return fail(
        openssl_error("client CA: certificate " + std::to_string(count + 1) + " does not parse"));
  }
  ERR_clear_error();
  if (count == 0) return fail("client CA: no certificate in the file");
  return count;
}

}  // namespace

std::string client_refusal(SSL* ssl, const std::vector<std::string>& allowed) {
  X509* peer = ssl == nullptr ? nullptr : SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK)
    return "a client certificate signed by the client CA is required";
  if (allowed.empty()) return {};
  auto is_allowed = [&](std::string_view name) {
    return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
  };
  std::string first_cn;
  const X509_NAME* subject = X509_get_subject_name(peer);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) continue;
    const std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    if (is_allowed(cn)) return {};
    if (first_cn.empty()) first_cn = cn;
  }
  bool found = false;
  if (auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; !found && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
      if (gen->type != GEN_DNS) continue;
      const auto* dns = gen->d.dNSName;
      found = is_allowed(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                          static_cast<std::size_t>(ASN1_STRING_length(dns))));
    }
    GENERAL_NAMES_free(names);
  }
  ERR_clear_error();
  if (found) return {};
  return "client certificate (CN '" + first_cn.substr(0, 256) +
         "') is not one of --client-allowed-names";
}

result<int> check_client_ca(std::string_view client_ca_pem) {
  return for_each_ca(client_ca_pem, [](X509*) { return true; });
}

result<tls_material> make_tls_context(std::string_view cert_pem, std::string_view key_pem,
                                      std::string_view client_ca_pem) {
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
  if (!client_ca_pem.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    auto added = for_each_ca(client_ca_pem, [&](X509* ca) {
      // The CA names go into the CertificateRequest so a client holding several certificates
      // picks the right one.
      return X509_STORE_add_cert(store, ca) == 1 && SSL_CTX_add_client_CA(native, ca) == 1;
    });
    if (!added) return fail(added.error().message);
    // The handshake fails (alert certificate_required / bad_certificate) without a certificate
    // that chains to the bundle; OpenSSL checks the clientAuth purpose of a server-side peer.
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Needed for session resumption once peers are verified.
    static constexpr unsigned char sid[] = {'m', 'l', 'n', 'e', 't', 'p', 'o', 'l'};
    SSL_CTX_set_session_id_context(native, sid, sizeof sid);
  }
  X509* leaf = SSL_CTX_get0_certificate(native);
  if (leaf == nullptr) {
    return fail("certificate: no certificate in the file");
  }
  // The leaf is the chain's first certificate: certs reads its dates and serial, as for the
  // certificate manager's metrics.
  if (const auto info = certs::inspect(cert_pem)) {
    r.not_after = std::chrono::duration<double>(info->not_after.time_since_epoch()).count();
    r.serial_hex = info->serial_hex;
  }
  r.context = std::move(ctx);
  return r;
}

certificate_store::certificate_store(std::string cert_file, std::string key_file,
                                     std::string client_ca_file)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      client_ca_file_(std::move(client_ca_file)) {}

namespace {

// The client CA file's bytes ("" without one); an empty file must not turn client authentication
// off.
result<std::string> read_client_ca(const std::string& path) {
  if (path.empty()) return std::string();
  auto read = files::read(path);
  if (!read) return fail("client CA: " + read.error().message);
  if (read->empty()) return fail("client CA: " + path + " is empty");
  return read;
}

}  // namespace

result<certificate_store::status> certificate_store::reload() {
  auto ca_read = read_client_ca(client_ca_file_);
  if (!ca_read) return ca_read.error();
  const std::string& ca = *ca_read;
  if (cert_file_.empty()) {
    std::string cert, key;
    {
      std::lock_guard lock(mutex_);
      cert = pem_cert_;
      key = pem_key_;
    }
    if (cert.empty()) return status::unchanged;  // no pair yet: nothing to serve with
    auto built = build(cert, key, ca);
    if (!built) return fail(client_ca_file_ + ": " + built.error().message);
    return built;
  }
  auto cert_read = files::read(cert_file_);
  auto key_read =
      cert_read ? files::read(key_file_) : mlnetpol::result<std::string>(cert_read.error());
  if (!key_read) return key_read.error();
  auto built = build(*cert_read, *key_read, ca);
  if (!built) {
    return fail(cert_file_ + " / " + key_file_ +
                (client_ca_file_.empty() ? "" : " / " + client_ca_file_) + ": " +
                built.error().message);
  }
  return built;
}

result<certificate_store::status> certificate_store::load_pem(std::string_view cert,
                                                              std::string_view key) {
  auto ca = read_client_ca(client_ca_file_);
  if (!ca) return ca.error();
  {
    std::lock_guard lock(mutex_);
    pem_cert_ = cert;
    pem_key_ = key;
  }
  return build(cert, key, *ca);
}

result<certificate_store::status> certificate_store::build(std::string_view cert,
                                                           std::string_view key,
                                                           std::string_view ca) {
  std::string both(cert);
  both += '\0';
  both += key;
  both += '\0';
  both += ca;
  {
    std::lock_guard lock(mutex_);
    if (both == loaded_bytes_) return status::unchanged;
    if (both == rejected_bytes_) return status::unchanged;  // already reported
  }
  auto made = make_tls_context(cert, key, ca);
  std::lock_guard lock(mutex_);
  if (!made) {
    rejected_bytes_ = std::move(both);
    return made.error();
  }
  current_ = std::move(*made);
  loaded_bytes_ = std::move(both);
  rejected_bytes_.clear();
  return status::reloaded;
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
