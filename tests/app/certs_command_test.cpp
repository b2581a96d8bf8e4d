// `mlnetpol certs` end to end: runs the built binary (MLNETPOL_BINARY) as a user would.
#include <doctest/doctest.h>

#include "tests/support/files.hpp"
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};


std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

using mlnetpol::testing::temp_dir;

run_result run(const temp_dir& tmp, const std::vector<std::string>& args) {
  REQUIRE_MESSAGE(fs::exists(MLNETPOL_BINARY), "build the mlnetpol target first");
  std::string cmd = quote(MLNETPOL_BINARY) + " certs";
  for (const auto& a : args) cmd += " " + quote(a);
  const fs::path out = tmp.path / ".stdout", err = tmp.path / ".stderr";
  cmd += " >" + quote(out.string()) + " 2>" + quote(err.string());
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  run_result r{WEXITSTATUS(status), mlnetpol::testing::read_text(out), mlnetpol::testing::read_text(err)};
  fs::remove(out);
  fs::remove(err);
  return r;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

bool cert_matches_ip(const fs::path& pem, const char* ip) {
  FILE* f = std::fopen(pem.c_str(), "r");
  REQUIRE(f != nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(cert != nullptr);
  const bool ok = X509_check_ip_asc(cert, ip, 0) == 1;
  X509_free(cert);
  return ok;
}

}  // namespace

TEST_CASE("mlnetpol certs writes the three files as `make run` asks for them") {
  temp_dir tmp;
  const fs::path out = tmp.path / ".dev-certs";
  const run_result r = run(tmp, {"--dev", "--service", "mlnetpol", "--namespace", "mlnetpol-system",
                                 "--out", out.string()});
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("tls.key") != std::string::npos);
  CHECK(mode_of(out / "ca.crt") == 0644);
  CHECK(mode_of(out / "tls.crt") == 0644);
  CHECK(mode_of(out / "tls.key") == 0600);
  CHECK(mlnetpol::testing::read_text(out / "tls.key").starts_with("-----BEGIN PRIVATE KEY-----"));
  CHECK(cert_matches_ip(out / "tls.crt", "127.0.0.1"));
}

TEST_CASE("mlnetpol certs refuses to overwrite, and --force replaces") {
  temp_dir tmp;
  const std::string out = (tmp.path / "c").string();
  REQUIRE(run(tmp, {"--out", out}).exit_code == 0);
  const std::string before = mlnetpol::testing::read_text(tmp.path / "c" / "tls.crt");
  CHECK_FALSE(cert_matches_ip(tmp.path / "c" / "tls.crt", "127.0.0.1"));

  const run_result refused = run(tmp, {"--out", out, "--dev"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("ca.crt already exists") != std::string::npos);
  CHECK(refused.err.find("--force") != std::string::npos);
  CHECK(mlnetpol::testing::read_text(tmp.path / "c" / "tls.crt") == before);

  const run_result forced = run(tmp, {"--out=" + out, "--dev", "--force", "--days=30"});
  CHECK(forced.exit_code == 0);
  CHECK(mlnetpol::testing::read_text(tmp.path / "c" / "tls.crt") != before);
  CHECK(cert_matches_ip(tmp.path / "c" / "tls.crt", "127.0.0.1"));
}

TEST_CASE("mlnetpol certs usage errors exit 2 with a clear message") {
  temp_dir tmp;
  const std::string out = (tmp.path / "c").string();
  struct usage_case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<usage_case> cases = {
      {{}, "--out DIR is required"},
      {{"--out"}, "flag --out needs a value"},
      {{"--out="}, "flag --out needs a value"},
      {{"--out", "--dev"}, "flag --out needs a value"},
      {{"--out", out, "--bogus"}, "unknown flag '--bogus'"},
      {{"--out", out, "--days", "ten"}, "--days needs a whole number, got 'ten'"},
      {{"--out", out, "--days", "0"}, "days must be between 1 and 3650"},
      {{"--out", out, "--days", "99999999999"}, "--days needs a whole number"},
      {{"--out", out, "--service", "Web_Hook"}, "service name 'Web_Hook' is not a DNS label"},
      {{"--out", out, "--namespace", "a.b"}, "namespace 'a.b' is not a DNS label"},
      {{"--out", out, "--ip", "1.2.3"}, "'1.2.3' is not an IPv4 or IPv6 address"},
      {{"--out", out, "--dns", "bad name"}, "extra DNS name 'bad name'"},
      {{"--out", out, "--dev=yes"}, "flag --dev takes no value"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    const run_result r = run(tmp, c.args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(r.err.rfind("mlnetpol certs: ", 0) == 0);
    CHECK(r.err.find("\n\nusage: mlnetpol certs --out DIR") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(out));  // a usage error writes nothing
}

TEST_CASE("mlnetpol certs --help documents every flag and exits 0") {
  temp_dir tmp;
  const run_result r = run(tmp, {"--help"});
  CHECK(r.exit_code == 0);
  for (const char* flag :
       {"--out", "--service", "--namespace", "--days", "--dev", "--dns", "--ip", "--force"}) {
    CAPTURE(flag);
    CHECK(r.out.find(flag) != std::string::npos);
  }
  // The synopsis names the repeatable flags, and the next step keeps ca.crt in the Secret:
  // `kubectl create secret tls` would drop it.
  const std::string synopsis = r.out.substr(0, r.out.find("\n\n"));
  CHECK(synopsis.find("[--dns NAME]...") != std::string::npos);
  CHECK(synopsis.find("[--ip ADDR]...") != std::string::npos);
  CHECK(r.out.find("create secret") == std::string::npos);
  CHECK(r.out.find("kubectl apply --server-side -k manifests/overlays/standard") !=
        std::string::npos);
}

TEST_CASE("mlnetpol certs reports write failures with exit code 1") {
  temp_dir tmp;
  { std::ofstream(tmp.path / "file") << "x"; }
  const run_result r = run(tmp, {"--out", (tmp.path / "file" / "sub").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("mlnetpol certs: ") == 0);
  CHECK(r.err.find((tmp.path / "file").string()) != std::string::npos);
}
