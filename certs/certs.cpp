#include "certs/certs.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace mlnetpol::certs {
namespace {

template <auto fn>
struct deleter {
  template <typename T>
  void operator()(T* p) const {
    fn(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using gens_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES_free>>;
using gen_ptr = std::unique_ptr<GENERAL_NAME, deleter<GENERAL_NAME_free>>;

// Drains OpenSSL's error queue so the message says why, not just where.
[[noreturn]] void fail(std::string_view what) {
  std::string message = "certs: " + std::string(what);
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    message += ": ";
    message += buf;
  }
  throw std::runtime_error(message);
}

void check(int ok, std::string_view what) {
  if (ok != 1) fail(what);
}

// RFC 1123 label: what Kubernetes accepts for Service and Namespace names.
bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

// A DNS SAN: dot-separated labels (upper case allowed; a leading "*." wildcard allowed).
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.starts_with("*.")) s.remove_prefix(2);
  while (true) {
    const auto dot = s.find('.');
    std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

pkey_ptr generate_p256() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("generating a P-256 key");
  return key;
}

// 128 random bits from the CSPRNG: a fresh, unguessable serial for every issued certificate.
void set_random_serial(X509* cert) {
  bn_ptr bn(BN_new());
  if (!bn) fail("allocating the serial");
  do {
    check(BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "drawing a serial");
  } while (BN_is_zero(bn.get()));  // RFC 5280 wants a positive serial
  ASN1_INTEGER* serial = X509_get_serialNumber(cert);
  if (!BN_to_ASN1_INTEGER(bn.get(), serial)) fail("setting the serial");
}

void set_name(X509_NAME* name, const std::string& cn) {
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>("mlnetpol"), -1, -1, 0),
        "setting the organization");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
        "setting the common name");
}

x509_ptr new_certificate(EVP_PKEY* subject_key, const std::string& cn, std::time_t not_before,
                         std::time_t not_after) {
  x509_ptr cert(X509_new());
  if (!cert) fail("allocating a certificate");
  check(X509_set_version(cert.get(), X509_VERSION_3), "setting the version");
  set_random_serial(cert.get());
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before)) fail("setting notBefore");
  if (!ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after)) fail("setting notAfter");
  check(X509_set_pubkey(cert.get(), subject_key), "setting the public key");
  set_name(X509_get_subject_name(cert.get()), cn);
  return cert;
}

x509_ptr new_certificate(EVP_PKEY* subject_key, const std::string& cn, int days) {
  const std::time_t now = std::time(nullptr);
  // Backdated a few minutes so a node whose clock runs slightly behind still accepts it.
  return new_certificate(subject_key, cn, now - 5 * 60,
                         now + static_cast<std::time_t>(days) * 24 * 60 * 60);
}

// Fixed extension strings only; names from the caller go through add_subject_alt_names.
void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) fail(std::string("building extension ") + OBJ_nid2sn(nid));
  if (!X509_add_ext(cert, ext.get(), -1)) fail(std::string("adding extension ") + OBJ_nid2sn(nid));
}

// Built as GENERAL_NAMEs (not a "DNS:a,IP:b" string) so no input can smuggle in another entry.
void add_subject_alt_names(X509* cert, const std::vector<std::string>& dns,
                           const std::vector<std::string>& ips) {
  gens_ptr names(GENERAL_NAMES_new());
  if (!names) fail("allocating subjectAltName");
  for (const auto& d : dns) {
    gen_ptr gen(GENERAL_NAME_new());
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (!gen || !ia5 || !ASN1_STRING_set(ia5, d.data(), static_cast<int>(d.size()))) {
      ASN1_IA5STRING_free(ia5);
      fail("building DNS name " + d);
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_DNS, ia5);
    if (!sk_GENERAL_NAME_push(names.get(), gen.get())) fail("adding DNS name " + d);
    gen.release();
  }
  for (const auto& ip : ips) {
    gen_ptr gen(GENERAL_NAME_new());
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());  // checked by check_options
    if (!gen || !octets) {
      ASN1_OCTET_STRING_free(octets);
      fail("building IP address " + ip);
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, octets);
    if (!sk_GENERAL_NAME_push(names.get(), gen.get())) fail("adding IP address " + ip);
    gen.release();
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_APPEND),
        "adding subjectAltName");
}

std::string to_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("encoding a certificate as PEM");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string to_pkcs8_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("encoding the key as PKCS#8 PEM");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

struct file_spec {
  const char* name;
  const std::string issued::*content;
  mode_t mode;
};
constexpr file_spec files[] = {
    {"ca.crt", &issued::ca_cert_pem, 0644},
    {"tls.crt", &issued::cert_pem, 0644},
    {"tls.key", &issued::key_pem, 0600},
};

[[noreturn]] void fail_errno(const std::string& what, const std::filesystem::path& path) {
  throw std::system_error(errno, std::generic_category(), "certs: " + what + " " + path.string());
}

void write_all(int fd, const std::string& content, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("writing", path);
    }
    done += static_cast<std::size_t>(n);
  }
}

// Creates path exclusively with its final mode, so the key is never readable by others, not
// even for an instant; O_NOFOLLOW|O_EXCL refuse a planted symlink.
void create_file(const std::filesystem::path& path, const std::string& content, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST)
      throw std::runtime_error("certs: " + path.string() +
                               " already exists; pass --force to overwrite it");
    fail_errno("creating", path);
  }
  try {
    // The umask may only have narrowed the mode; the documented modes are the contract.
    if (::fchmod(fd, mode) != 0) fail_errno("setting the mode of", path);
    write_all(fd, content, path);
    if (::fsync(fd) != 0) fail_errno("syncing", path);
  } catch (...) {
    ::close(fd);
    ::unlink(path.c_str());
    throw;
  }
  if (::close(fd) != 0) fail_errno("closing", path);
}

}  // namespace

std::string check_options(const issue_options& options) {
  const std::string label_rule =
      "' is not a DNS label (lower-case letters, digits, '-', at most 63)";
  if (!is_dns_label(options.service)) return "service name '" + options.service + label_rule;
  if (!is_dns_label(options.namespace_name))
    return "namespace '" + options.namespace_name + label_rule;
  if (options.days < 1 || options.days > max_days)
    return "days must be between 1 and " + std::to_string(max_days) + ", got " +
           std::to_string(options.days);
  for (const auto& name : options.extra_dns)
    if (!is_dns_name(name)) return "extra DNS name '" + name + "' is not a valid DNS name";
  for (const auto& ip : options.extra_ips) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    ERR_clear_error();
    if (!octets) return "'" + ip + "' is not an IPv4 or IPv6 address";
    ASN1_OCTET_STRING_free(octets);
  }
  return {};
}

namespace {

std::string service_fqdn(const issue_options& options) {
  return options.service + "." + options.namespace_name + ".svc";
}

void make_ca(X509* ca, EVP_PKEY* ca_key) {
  check(X509_set_issuer_name(ca, X509_get_subject_name(ca)), "setting the CA issuer");
  add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  add_ext(ca, ca, NID_subject_key_identifier, "hash");
  add_ext(ca, ca, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(ca, ca_key, EVP_sha256()) <= 0) fail("signing the CA certificate");
}

void make_serving(X509* cert, X509* ca, EVP_PKEY* ca_key, const issue_options& options) {
  check(X509_set_issuer_name(cert, X509_get_subject_name(ca)), "setting the issuer");
  add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
  // ECDSA keys sign only; keyEncipherment would be meaningless for them.
  add_ext(cert, ca, NID_key_usage, "critical,digitalSignature");
  add_ext(cert, ca, NID_ext_key_usage, "serverAuth");
  add_ext(cert, ca, NID_subject_key_identifier, "hash");
  add_ext(cert, ca, NID_authority_key_identifier, "keyid:always");
  std::vector<std::string> dns = service_dns_names(options.service, options.namespace_name);
  std::vector<std::string> ips;
  if (options.dev) {
    dns.emplace_back("localhost");
    ips.emplace_back("127.0.0.1");
  }
  dns.insert(dns.end(), options.extra_dns.begin(), options.extra_dns.end());
  ips.insert(ips.end(), options.extra_ips.begin(), options.extra_ips.end());
  add_subject_alt_names(cert, dns, ips);
  if (X509_sign(cert, ca_key, EVP_sha256()) <= 0) fail("signing the serving certificate");
}

x509_ptr read_cert(std::string_view pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

pkey_ptr read_key(std::string_view pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

wall_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return wall_clock::from_time_t(timegm(&tm));
}

void check_names(const issue_options& options) {
  issue_options named = options;
  named.days = 1;  // lifetimes are checked by the caller here
  if (const std::string error = check_options(named); !error.empty())
    throw std::runtime_error("certs: " + error);
  ERR_clear_error();
}

}  // namespace

issued issue(const issue_options& options) {
  if (const std::string error = check_options(options); !error.empty())
    throw std::runtime_error("certs: " + error);
  ERR_clear_error();  // so a failure reports its own reasons, not a stale one
  const std::string svc = service_fqdn(options);

  pkey_ptr ca_key = generate_p256();
  x509_ptr ca = new_certificate(ca_key.get(), "mlnetpol CA for " + svc, options.days);
  make_ca(ca.get(), ca_key.get());

  pkey_ptr key = generate_p256();
  x509_ptr cert = new_certificate(key.get(), svc, options.days);
  make_serving(cert.get(), ca.get(), ca_key.get(), options);
  return issued{to_pem(ca.get()), to_pem(cert.get()), to_pkcs8_pem(key.get())};
}

key_pair issue_ca(const issue_options& options, wall_clock::time_point not_before,
                  wall_clock::time_point not_after) {
  check_names(options);
  pkey_ptr ca_key = generate_p256();
  x509_ptr ca = new_certificate(ca_key.get(), "mlnetpol CA for " + service_fqdn(options),
                                wall_clock::to_time_t(not_before),
                                wall_clock::to_time_t(not_after));
  make_ca(ca.get(), ca_key.get());
  return {to_pem(ca.get()), to_pkcs8_pem(ca_key.get())};
}

key_pair issue_serving(const key_pair& ca_pair, const issue_options& options,
                       wall_clock::time_point not_before, wall_clock::time_point not_after) {
  check_names(options);
  x509_ptr ca = read_cert(ca_pair.cert_pem);
  pkey_ptr ca_key = read_key(ca_pair.key_pem);
  if (!ca || !ca_key) throw std::runtime_error("certs: the CA certificate or key does not parse");
  pkey_ptr key = generate_p256();
  x509_ptr cert = new_certificate(key.get(), service_fqdn(options),
                                  wall_clock::to_time_t(not_before),
                                  wall_clock::to_time_t(not_after));
  make_serving(cert.get(), ca.get(), ca_key.get(), options);
  return {to_pem(cert.get()), to_pkcs8_pem(key.get())};
}

key_pair issue_client(const key_pair& ca_pair, const std::string& common_name,
                      const std::vector<std::string>& dns_names, wall_clock::time_point not_before,
                      wall_clock::time_point not_after) {
  if (common_name.empty() || common_name.size() > 64)
    throw std::runtime_error("certs: a client common name has 1 to 64 characters");
  for (const auto& name : dns_names)
    if (!is_dns_name(name)) throw std::runtime_error("certs: '" + name + "' is not a DNS name");
  ERR_clear_error();
  x509_ptr ca = read_cert(ca_pair.cert_pem);
  pkey_ptr ca_key = read_key(ca_pair.key_pem);
  if (!ca || !ca_key) throw std::runtime_error("certs: the CA certificate or key does not parse");
  pkey_ptr key = generate_p256();
  x509_ptr cert = new_certificate(key.get(), common_name, wall_clock::to_time_t(not_before),
                                  wall_clock::to_time_t(not_after));
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())), "setting the issuer");
  add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), ca.get(), NID_ext_key_usage, "clientAuth");
  add_ext(cert.get(), ca.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  if (!dns_names.empty()) add_subject_alt_names(cert.get(), dns_names, {});
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0)
    fail("signing the client certificate");
  return {to_pem(cert.get()), to_pkcs8_pem(key.get())};
}

std::optional<cert_info> inspect(std::string_view pem) {
  x509_ptr cert = read_cert(pem);
  if (!cert) return std::nullopt;
  cert_info info;
  info.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  info.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  if (bn_ptr bn{ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr)}) {
    if (char* hex = BN_bn2hex(bn.get())) {
      info.serial_hex = hex;
      OPENSSL_free(hex);
    }
  }
  gens_ptr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    if (gen->type == GEN_DNS) {
      const auto* s = gen->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (gen->type == GEN_IPADD) {
      const auto* s = gen->d.iPAddress;
      const int len = ASN1_STRING_length(s);
      char text[INET6_ADDRSTRLEN] = {};
      if ((len == 4 || len == 16) &&
          ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text,
                      sizeof text) != nullptr) {
        info.ip_addresses.emplace_back(text);
      }
    }
  }
  ERR_clear_error();
  return info;
}

bool signed_by(std::string_view cert_pem, std::string_view ca_pem) {
  x509_ptr cert = read_cert(cert_pem);
  x509_ptr ca = read_cert(ca_pem);
  if (!cert || !ca) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  const bool ok = ca_key != nullptr && X509_verify(cert.get(), ca_key) == 1;
  ERR_clear_error();
  return ok;
}

std::vector<std::string> split_bundle(std::string_view bundle) {
  std::vector<std::string> out;
  bio_ptr bio(BIO_new_mem_buf(bundle.data(), static_cast<int>(bundle.size())));
  if (!bio) return out;
  // PEM_read_bio_X509 skips text between blocks and stops at the end (or a broken block).
  while (x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    out.push_back(to_pem(cert.get()));
  }
  ERR_clear_error();
  return out;
}

std::vector<std::string> service_dns_names(const std::string& service,
                                           const std::string& namespace_name) {
  const std::string ns = service + "." + namespace_name;
  return {service, ns, ns + ".svc", ns + ".svc.cluster.local"};
}

void write_files(const issued& pair, const std::filesystem::path& dir, bool force) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("certs: creating " + dir.string() + ": " + ec.message());
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("certs: " + dir.string() + " is not a directory");

  // Check all three first so a refusal never leaves a half-written set behind.
  for (const auto& f : files) {
    const auto path = dir / f.name;
    if (!force &&
        std::filesystem::symlink_status(path).type() != std::filesystem::file_type::not_found)
      throw std::runtime_error("certs: " + path.string() +
                               " already exists; pass --force to overwrite it");
  }
  for (const auto& f : files) {
    const auto path = dir / f.name;
    if (!force) {
      create_file(path, pair.*f.content, f.mode);
      continue;
    }
    // Forced: write a fresh file beside it and rename over, so the old file's mode (or a
    // symlink there) never applies to the new content and readers see old or new, never half.
    const auto tmp = dir / ("." + std::string(f.name) + "." + std::to_string(::getpid()) + ".tmp");
    ::unlink(tmp.c_str());
    create_file(tmp, pair.*f.content, f.mode);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int saved = errno;
      ::unlink(tmp.c_str());
      errno = saved;
      fail_errno("replacing", path);
    }
  }
}

}  // namespace mlnetpol::certs
