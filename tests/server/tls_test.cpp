#include "server/tls.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "certs/certs.hpp"

using namespace mlnetpol::server;

namespace {

struct pem_pair {
  std::string cert;
  std::string key;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// A self-signed RSA-2048 certificate with serial 4242, valid for `days`.
pem_pair rsa_pair(long days) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rsa-test"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  BIO* cb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, cert);
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  X509_free(cert);
  EVP_PKEY_free(key);
  return {bio_text(cb), bio_text(kb)};
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("RSA and ECDSA pairs both make a context; serial and notAfter are read") {
  const auto rsa = rsa_pair(30);
  auto r = make_tls_context(rsa.cert, rsa.key);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  CHECK(r->serial_hex == "1092");  // 4242
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(r->not_after > now + 29 * 86400.0);
  CHECK(r->not_after < now + 31 * 86400.0);

  mlnetpol::certs::issue_options o;
  o.dev = true;
  const auto ec = mlnetpol::certs::issue(o);
  r = make_tls_context(ec.cert_pem, ec.key_pem);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  CHECK(SSL_CTX_get_min_proto_version(r->context->native_handle()) == TLS1_2_VERSION);
}

TEST_CASE("bad pairs are refused with a reason") {
  const auto a = rsa_pair(1);
  const auto b = rsa_pair(1);
  auto r = make_tls_context("garbage", a.key);
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.rfind("certificate:", 0) == 0);
  r = make_tls_context(a.cert, "garbage");
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.rfind("private key:", 0) == 0);
  r = make_tls_context(a.cert, b.key);
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.find("mismatch") != std::string::npos);
}

TEST_CASE("certificate_store: reload only on change, remember a rejected pair") {
  std::string pattern = (std::filesystem::temp_directory_path() / "mlnetpol-tls-XXXXXX").string();
  const std::filesystem::path dir = ::mkdtemp(pattern.data());
  const auto first = rsa_pair(10);
  const auto second = rsa_pair(20);
  certificate_store store((dir / "tls.crt").string(), (dir / "tls.key").string());
  CHECK_FALSE(store.loaded());

  auto r = store.reload();
  CHECK(r.outcome == certificate_store::status::failed);
  CHECK(r.error.find("tls.crt") != std::string::npos);

  write(dir / "tls.crt", first.cert);
  write(dir / "tls.key", first.key);
  CHECK(store.reload().outcome == certificate_store::status::reloaded);
  CHECK(store.loaded());
  const auto ctx1 = store.current();
  CHECK(store.reload().outcome == certificate_store::status::unchanged);
  CHECK(store.current() == ctx1);

  write(dir / "tls.crt", second.cert);  // half-way through an update: the key is still the old one
  r = store.reload();
  CHECK(r.outcome == certificate_store::status::failed);
  CHECK(store.current() == ctx1);
  CHECK(store.reload().outcome == certificate_store::status::unchanged);  // reported once

  write(dir / "tls.key", second.key);
  CHECK(store.reload().outcome == certificate_store::status::reloaded);
  CHECK(store.current() != ctx1);
  std::filesystem::remove_all(dir);
}
