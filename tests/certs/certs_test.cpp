#include "certs/certs.hpp"

#include <doctest/doctest.h>

#include "tests/support/files.hpp"
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace fs = std::filesystem;
using mlnetpol::certs::issue;
using mlnetpol::certs::issue_options;
using mlnetpol::certs::issued;
using mlnetpol::certs::write_files;
using mlnetpol::testing::temp_dir;

namespace {

struct x509_free_fn {
  void operator()(X509* p) const { X509_free(p); }
};
struct pkey_free_fn {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct store_free_fn {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct ctx_free_fn {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free_fn>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free_fn>;

x509_ptr parse_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509_ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  REQUIRE(cert);
  return cert;
}

pkey_ptr parse_key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  pkey_ptr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  REQUIRE(key);
  return key;
}

// Verifies leaf against ca as a TLS server certificate for host (a DNS name or an IP).
int verify(const issued& pair, const std::string& host, bool host_is_ip) {
  x509_ptr ca = parse_cert(pair.ca_cert_pem);
  x509_ptr leaf = parse_cert(pair.cert_pem);
  std::unique_ptr<X509_STORE, store_free_fn> store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), ca.get()) == 1);
  std::unique_ptr<X509_STORE_CTX, ctx_free_fn> ctx(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr) == 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  REQUIRE(X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER) == 1);
  if (host_is_ip)
    REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1);
  else
    REQUIRE(X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

std::string serial_hex(const std::string& pem) {
  x509_ptr cert = parse_cert(pem);
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert.get()), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}


// Options with one change from the defaults (designated initializers would trip
// -Wmissing-field-initializers).
template <typename F>
issue_options with(F change) {
  issue_options o;
  change(o);
  return o;
}

}  // namespace

TEST_CASE("the serving certificate chains to the CA for every in-cluster name") {
  issue_options options;
  options.service = "mlnetpol";
  options.namespace_name = "mlnetpol-system";
  const issued pair = issue(options);
  for (const char* host : {"mlnetpol", "mlnetpol.mlnetpol-system", "mlnetpol.mlnetpol-system.svc",
                           "mlnetpol.mlnetpol-system.svc.cluster.local"}) {
    CAPTURE(host);
    CHECK(verify(pair, host, false) == X509_V_OK);
  }
  CHECK(verify(pair, "other.mlnetpol-system.svc", false) == X509_V_ERR_HOSTNAME_MISMATCH);
  // Without --dev the loopback names are not in the certificate.
  CHECK(verify(pair, "localhost", false) == X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(verify(pair, "127.0.0.1", true) == X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_CASE("dev certificates also cover localhost and 127.0.0.1") {
  issue_options options;
  options.service = "web";
  options.namespace_name = "team-a";
  options.dev = true;
  const issued pair = issue(options);
  CHECK(verify(pair, "localhost", false) == X509_V_OK);
  CHECK(verify(pair, "127.0.0.1", true) == X509_V_OK);
  CHECK(verify(pair, "web.team-a.svc", false) == X509_V_OK);
  CHECK(verify(pair, "::1", true) == X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_CASE("extra names and addresses are added as SANs") {
  issue_options options;
  options.extra_dns = {"webhook.example.com"};
  options.extra_ips = {"10.0.0.7", "fd00::1"};
  const issued pair = issue(options);
  CHECK(verify(pair, "webhook.example.com", false) == X509_V_OK);
  CHECK(verify(pair, "10.0.0.7", true) == X509_V_OK);
  CHECK(verify(pair, "fd00::1", true) == X509_V_OK);
}

TEST_CASE("a certificate from another issue does not chain to this CA") {
  const issued a = issue({});
  issued mixed = issue({});
  mixed.ca_cert_pem = a.ca_cert_pem;
  CHECK(verify(mixed, "mlnetpol.mlnetpol-system.svc", false) != X509_V_OK);
}

TEST_CASE("CA and serving certificate carry the right extensions and subject") {
  issue_options options;
  options.days = 30;
  const issued pair = issue(options);
  x509_ptr ca = parse_cert(pair.ca_cert_pem);
  x509_ptr leaf = parse_cert(pair.cert_pem);

  CHECK(X509_check_ca(ca.get()) >= 1);
  CHECK((X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN) != 0);
  CHECK(X509_check_ca(leaf.get()) == 0);
  CHECK((X509_get_extension_flags(leaf.get()) & EXFLAG_XKUSAGE) != 0);
  CHECK((X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER) != 0);
  CHECK((X509_get_extended_key_usage(leaf.get()) & XKU_SSL_CLIENT) == 0);
  CHECK(X509_get_version(leaf.get()) == X509_VERSION_3);

  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn, sizeof(cn));
  CHECK(std::string(cn) == "mlnetpol.mlnetpol-system.svc");
  CHECK(X509_NAME_cmp(X509_get_issuer_name(leaf.get()), X509_get_subject_name(ca.get())) == 0);

  // Validity is `days` long (plus the small backdating of notBefore).
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf.get()),
                         X509_get0_notAfter(leaf.get())) == 1);
  CHECK(days == 30);
  CHECK(secs >= 0);
  CHECK(secs <= 600);
  REQUIRE(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(leaf.get())) == 1);
  const long remaining = days * 86400L + secs;  // 30 days from issue, minus the seconds since
  CHECK(remaining <= 30 * 86400L);
  CHECK(remaining > 30 * 86400L - 600);
}

TEST_CASE("keys are ECDSA P-256, PKCS#8 PEM, and match the certificates") {
  const issued pair = issue({});
  CHECK(pair.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
  CHECK(pair.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  CHECK(pair.ca_cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  pkey_ptr key = parse_key(pair.key_pem);
  CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC);
  char group[64] = {};
  size_t len = 0;
  REQUIRE(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &len) == 1);
  CHECK(std::string(group) == "prime256v1");
  x509_ptr leaf = parse_cert(pair.cert_pem);
  CHECK(X509_check_private_key(leaf.get(), key.get()) == 1);
  x509_ptr ca = parse_cert(pair.ca_cert_pem);
  CHECK(X509_check_private_key(ca.get(), key.get()) == 0);
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca.get());
  CHECK(EVP_PKEY_get_base_id(ca_pub) == EVP_PKEY_EC);
  CHECK(X509_get_signature_nid(leaf.get()) == NID_ecdsa_with_SHA256);
}

TEST_CASE("every issue draws new random serials") {
  std::set<std::string> serials;
  for (int i = 0; i < 5; ++i) {
    const issued pair = issue({});
    serials.insert(serial_hex(pair.ca_cert_pem));
    serials.insert(serial_hex(pair.cert_pem));
  }
  CHECK(serials.size() == 10);
  for (const auto& s : serials) CHECK(s.size() >= 16);  // not a counter: 128 random bits
}

TEST_CASE("bad options are refused with a clear message") {
  // The message issue() throws for the defaults with one change, or "" if it accepts them.
  auto message = [](auto change) {
    try {
      issue(with(change));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message([](issue_options& o) { o.service = "Bad_Name"; }).find("service name 'Bad_Name'") !=
        std::string::npos);
  CHECK(message([](issue_options& o) { o.service = ""; }).find("service name") !=
        std::string::npos);
  CHECK(message([](issue_options& o) { o.namespace_name = "a.b"; }).find("namespace 'a.b'") !=
        std::string::npos);
  CHECK(message([](issue_options& o) {
          o.namespace_name = std::string(64, 'a');
        }).find("namespace") != std::string::npos);
  CHECK(message([](issue_options& o) { o.days = 0; }).find("days must be between 1 and 3650") !=
        std::string::npos);
  CHECK(message([](issue_options& o) { o.days = 3651; }).find("days") != std::string::npos);
  CHECK(message([](issue_options& o) {
          o.extra_dns = {"a,DNS:evil.example"};
        }).find("a,DNS:evil.example") != std::string::npos);
  CHECK(message([](issue_options& o) {
          o.extra_ips = {"300.1.1.1"};
        }).find("'300.1.1.1' is not an IPv4 or IPv6") != std::string::npos);
  CHECK(message([](issue_options& o) { o.days = 3650; }).empty());
}

TEST_CASE("write_files creates the files with their modes, whatever the umask") {
  temp_dir tmp;
  const fs::path dir = tmp.path / "nested" / "certs";
  const issued pair = issue({});
  const mode_t old_umask = ::umask(077);
  write_files(pair, dir, false);
  ::umask(old_umask);
  CHECK(mode_of(dir / "ca.crt") == 0644);
  CHECK(mode_of(dir / "tls.crt") == 0644);
  CHECK(mode_of(dir / "tls.key") == 0600);
  CHECK(mlnetpol::testing::read_text(dir / "ca.crt") == pair.ca_cert_pem);
  CHECK(mlnetpol::testing::read_text(dir / "tls.crt") == pair.cert_pem);
  CHECK(mlnetpol::testing::read_text(dir / "tls.key") == pair.key_pem);
}

TEST_CASE("write_files refuses to overwrite without force and names the file") {
  temp_dir tmp;
  const issued first = issue({});
  const issued second = issue({});
  // Only tls.key exists: nothing at all may be written, and the message names tls.key.
  { std::ofstream(tmp.path / "tls.key") << "precious"; }
  try {
    write_files(second, tmp.path, false);
    FAIL("expected a refusal");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find((tmp.path / "tls.key").string()) != std::string::npos);
    CHECK(what.find("--force") != std::string::npos);
  }
  CHECK(mlnetpol::testing::read_text(tmp.path / "tls.key") == "precious");
  CHECK_FALSE(fs::exists(tmp.path / "ca.crt"));
  CHECK_FALSE(fs::exists(tmp.path / "tls.crt"));

  fs::remove(tmp.path / "tls.key");
  write_files(first, tmp.path, false);
  CHECK_THROWS_AS(write_files(second, tmp.path, false), std::runtime_error);
  CHECK(mlnetpol::testing::read_text(tmp.path / "tls.crt") == first.cert_pem);

  // A dangling symlink counts as existing: never follow it to write the key elsewhere.
  temp_dir other;
  fs::create_symlink(other.path / "stolen.key", other.path / "tls.key");
  CHECK_THROWS_AS(write_files(first, other.path, false), std::runtime_error);
  CHECK_FALSE(fs::exists(other.path / "stolen.key"));
}

TEST_CASE("write_files with force replaces every file and resets its mode") {
  temp_dir tmp;
  const issued first = issue({});
  const issued second = issue({});
  write_files(first, tmp.path, false);
  fs::permissions(tmp.path / "tls.key", fs::perms(0644));
  write_files(second, tmp.path, true);
  CHECK(mlnetpol::testing::read_text(tmp.path / "ca.crt") == second.ca_cert_pem);
  CHECK(mlnetpol::testing::read_text(tmp.path / "tls.crt") == second.cert_pem);
  CHECK(mlnetpol::testing::read_text(tmp.path / "tls.key") == second.key_pem);
  CHECK(mode_of(tmp.path / "tls.key") == 0600);
  // No temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path)) ++entries;
  CHECK(entries == 3);
}

TEST_CASE("write_files refuses a path that is a file, not a directory") {
  temp_dir tmp;
  { std::ofstream(tmp.path / "file") << "x"; }
  CHECK_THROWS_AS(write_files(issue({}), tmp.path / "file", false), std::runtime_error);
}

TEST_CASE("issue_ca / issue_serving: given validity, chain, SANs; inspect, signed_by, split_bundle") {
  using namespace mlnetpol::certs;
  const auto now = wall_clock::from_time_t(std::time(nullptr));
  issue_options names;
  names.extra_ips = {"127.0.0.1"};
  names.extra_dns = {"webhook.example"};
  const key_pair ca = issue_ca(names, now - std::chrono::seconds(10), now + std::chrono::hours(2));
  const key_pair other = issue_ca(names, now, now + std::chrono::hours(2));
  const key_pair leaf =
      issue_serving(ca, names, now - std::chrono::seconds(5), now + std::chrono::minutes(30));

  const auto info = inspect(leaf.cert_pem);
  REQUIRE(info.has_value());
  CHECK(info->not_before == now - std::chrono::seconds(5));
  CHECK(info->not_after == now + std::chrono::minutes(30));
  CHECK(info->serial_hex == serial_hex(leaf.cert_pem));
  const std::set<std::string> dns(info->dns_names.begin(), info->dns_names.end());
  CHECK(dns == std::set<std::string>{"mlnetpol", "mlnetpol.mlnetpol-system",
                                     "mlnetpol.mlnetpol-system.svc",
                                     "mlnetpol.mlnetpol-system.svc.cluster.local",
                                     "webhook.example"});
  CHECK(info->ip_addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(signed_by(leaf.cert_pem, ca.cert_pem));
  CHECK_FALSE(signed_by(leaf.cert_pem, other.cert_pem));
  CHECK_FALSE(signed_by("garbage", ca.cert_pem));
  CHECK_FALSE(inspect("garbage").has_value());

  // A bundle splits into canonical blocks, whatever the whitespace and text around them.
  const auto blocks = split_bundle("comment\n" + ca.cert_pem + "\n\n" + other.cert_pem + "tail");
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0] == split_bundle(ca.cert_pem).at(0));
  CHECK(split_bundle("no certificates").empty());

  CHECK_THROWS_AS(issue_serving(key_pair{"x", "y"}, names, now, now + std::chrono::hours(1)),
                  std::runtime_error);
  issue_options bad = names;
  bad.service = "Bad_Name";
  CHECK_THROWS_AS(issue_ca(bad, now, now + std::chrono::hours(1)), std::runtime_error);
}
