#include "server/tls.hpp"

#include <doctest/doctest.h>

#include "tests/support/files.hpp"

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

namespace {

// "reloaded", "unchanged", or why it failed (so a failed check shows the reason).
std::string outcome(const mlnetpol::result<certificate_store::status>& r) {
  if (!r) return "failed: " + r.error().message;
  return *r == certificate_store::status::reloaded ? "reloaded" : "unchanged";
}

}  // namespace

TEST_CASE("certificate_store: reload only on change, remember a rejected pair") {
  const mlnetpol::testing::temp_dir scratch("mlnetpol-tls");
  const std::filesystem::path& dir = scratch.path;
  const auto first = rsa_pair(10);
  const auto second = rsa_pair(20);
  certificate_store store((dir / "tls.crt").string(), (dir / "tls.key").string());
  CHECK_FALSE(store.loaded());

  auto r = store.reload();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("tls.crt") != std::string::npos);

  write(dir / "tls.crt", first.cert);
  write(dir / "tls.key", first.key);
  CHECK(outcome(store.reload()) == "reloaded");
  CHECK(store.loaded());
  const auto ctx1 = store.current();
  CHECK(outcome(store.reload()) == "unchanged");
  CHECK(store.current() == ctx1);

  write(dir / "tls.crt", second.cert);  // half-way through an update: the key is still the old one
  r = store.reload();
  CHECK_FALSE(r.has_value());
  CHECK(store.current() == ctx1);
  CHECK(outcome(store.reload()) == "unchanged");  // reported once

  write(dir / "tls.key", second.key);
  CHECK(outcome(store.reload()) == "reloaded");
  CHECK(store.current() != ctx1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a client CA makes the context require a verified client certificate") {
  const auto pair = rsa_pair(1);
  const auto ca = rsa_pair(1);
  auto r = make_tls_context(pair.cert, pair.key, ca.cert);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  SSL_CTX* native = r->context->native_handle();
  CHECK(SSL_CTX_get_verify_mode(native) == (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
  CHECK(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(native)) == 1);
  // Two CAs (a rotation): both trusted.
  r = make_tls_context(pair.cert, pair.key, ca.cert + rsa_pair(1).cert);
  REQUIRE(r.has_value());
  CHECK(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(r->context->native_handle())) == 2);
  // Without one, nothing is asked of clients.
  r = make_tls_context(pair.cert, pair.key);
  REQUIRE(r.has_value());
  CHECK(SSL_CTX_get_verify_mode(r->context->native_handle()) == SSL_VERIFY_NONE);

  for (const std::string& bad :
       {std::string("garbage"), pair.key,
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    CAPTURE(bad);
    r = make_tls_context(pair.cert, pair.key, bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.rfind("client CA:", 0) == 0);
    CHECK_FALSE(check_client_ca(bad).has_value());
  }
  CHECK(check_client_ca(ca.cert).value() == 1);
}

TEST_CASE("certificate_store with a client CA file: re-read with the pair; empty never disables") {
  const mlnetpol::testing::temp_dir scratch("mlnetpol-tls");
  const std::filesystem::path& dir = scratch.path;
  const auto pair = rsa_pair(10);
  const auto ca1 = rsa_pair(10);
  const auto ca2 = rsa_pair(10);
  write(dir / "tls.crt", pair.cert);
  write(dir / "tls.key", pair.key);
  certificate_store store((dir / "tls.crt").string(), (dir / "tls.key").string(),
                          (dir / "ca.crt").string());
  auto r = store.reload();
  CHECK_FALSE(r.has_value());  // no CA file yet
  CHECK_FALSE(store.loaded());
  write(dir / "ca.crt", ca1.cert);
  CHECK(outcome(store.reload()) == "reloaded");
  const auto ctx1 = store.current();
  CHECK(outcome(store.reload()) == "unchanged");
  write(dir / "ca.crt", "");
  r = store.reload();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("empty") != std::string::npos);
  CHECK(store.current() == ctx1);
  write(dir / "ca.crt", ca2.cert);
  CHECK(outcome(store.reload()) == "reloaded");
  CHECK(store.current() != ctx1);

  // Without pair files: the pair from load_pem, combined with each new CA.
  certificate_store pem_store("", "", (dir / "ca.crt").string());
  CHECK(outcome(pem_store.reload()) == "unchanged");  // no pair yet
  CHECK(outcome(pem_store.load_pem(pair.cert, pair.key)) == "reloaded");
  const auto pem_ctx = pem_store.current();
  write(dir / "ca.crt", ca1.cert);
  CHECK(outcome(pem_store.reload()) == "reloaded");
  CHECK(pem_store.current() != pem_ctx);
  std::filesystem::remove_all(dir);
}
