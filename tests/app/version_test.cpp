#include "app/version.hpp"
#include "app/hints.hpp"

#include <doctest/doctest.h>

#include <string>

#include "tests/support/process.hpp"

namespace {

using mlnetpol::testing::run_binary;
const auto run = run_binary;

bool is_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

TEST_CASE("version: what the build is, for bug reports and mlnetpol_build_info") {
  const auto& b = mlnetpol::app::current_build();
  CHECK(b.version == MLNETPOL_PROJECT_VERSION);  // CMake's project(VERSION)
  // A git checkout gives 12 hex digits (and -dirty while edited); elsewhere "unknown".
  const std::string_view commit = b.commit;
  const std::string_view bare = commit.substr(0, commit.find("-dirty"));
  const bool commit_ok = commit == "unknown" || (bare.size() == 12 && is_hex(bare));
  CHECK(commit_ok);
  CHECK(b.build_date.size() == 10);
  CHECK(b.build_date[4] == '-');
  const bool compiler_ok = b.compiler.rfind("GCC ", 0) == 0 || b.compiler.rfind("Clang ", 0) == 0;
  CHECK(compiler_ok);
  CHECK(b.openssl.rfind("OpenSSL 3.", 0) == 0);
  CHECK(b.boost.rfind("1.", 0) == 0);
}

TEST_CASE("version: `mlnetpol version` and `--version` print the same block, exit 0") {
  int code = -1;
  const std::string text = run("version", code);
  CHECK(code == 0);
  CHECK(text == mlnetpol::app::version_text());
  CHECK(text.rfind(std::string("mlnetpol: ") + MLNETPOL_PROJECT_VERSION + "\ncommit: ", 0) == 0);
  for (const char* key : {"\nbuilt: ", "\ncompiler: ", "\nopenssl: OpenSSL 3.", "\nboost: 1."}) {
    CAPTURE(key);
    CHECK(text.find(key) != std::string::npos);
  }
  CHECK(run("--version", code) == text);
  CHECK(code == 0);
  run("version --bogus", code);
  CHECK(code == 2);
}

TEST_CASE("pause: the preStop hook waits and exits 0; bad values exit 2") {
  int code = -1;
  run("pause --seconds 0", code);
  CHECK(code == 0);
  run("pause --seconds=1", code);
  CHECK(code == 0);
  for (const char* bad : {"pause", "pause --seconds", "pause --seconds -1", "pause --seconds 301",
                          "pause --seconds 5s", "pause 5"}) {
    CAPTURE(bad);
    const std::string out = run(bad, code);
    CHECK(code == 2);
    CHECK(out.rfind("mlnetpol pause: ", 0) == 0);
  }
}

TEST_CASE("serve's missing-certificate hint says how to make the files") {
  const std::string hint =
      mlnetpol::app::missing_certificate_hint("/tmp/k8s-webhook-server/serving-certs/tls.crt",
                                              "/tmp/k8s-webhook-server/serving-certs/tls.key");
  CHECK(hint.find("--tls-cert-file /tmp/k8s-webhook-server/serving-certs/tls.crt") !=
        std::string::npos);
  CHECK(hint.find("mlnetpol certs --dev --out /tmp/k8s-webhook-server/serving-certs") !=
        std::string::npos);
  CHECK(hint.find("mlnetpol certs --out manifests/certs") != std::string::npos);
  CHECK(hint.find("create secret") == std::string::npos);  // would drop ca.crt
  CHECK(mlnetpol::app::missing_certificate_hint("tls.crt", "tls.key").find("--out .") !=
        std::string::npos);
}

TEST_CASE("serve without its certificate files says how to make them") {
  int code = 0;
  const std::string out =
      run("serve --port 0 --metrics-bind-address 0 --reconcile=false --cert-management=external "
          "--tls-cert-file /nonexistent-mlnetpol/tls.crt "
          "--tls-key-file /nonexistent-mlnetpol/tls.key",
          code);
  CHECK(code == 1);
  CHECK(out.find("mlnetpol serve: ") != std::string::npos);
  CHECK(out.find("mlnetpol certs --dev --out /nonexistent-mlnetpol") != std::string::npos);
  CHECK(out.find("--cert-management=self") != std::string::npos);
}
