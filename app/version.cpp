// `mlnetpol version`: the build's identity, for bug reports and the mlnetpol_build_info gauge.
#include "app/version.hpp"

#include <cstdio>
#include <string>
#include <string_view>

#include <openssl/crypto.h>
#include <boost/version.hpp>

#include "app/build_info.hpp"
#include "app/commands.hpp"

namespace mlnetpol::app {
namespace {

#define MLNETPOL_STR2(x) #x
#define MLNETPOL_STR(x) MLNETPOL_STR2(x)

constexpr std::string_view compiler_name() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " MLNETPOL_STR(__GNUC__) "." MLNETPOL_STR(__GNUC_MINOR__) "." MLNETPOL_STR(
      __GNUC_PATCHLEVEL__);
#else
  return "unknown compiler";
#endif
}

std::string boost_version() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
         "." + std::to_string(BOOST_VERSION % 100);
}

constexpr const char* version_usage =
    "usage: mlnetpol version   (or: mlnetpol --version)\n"
    "\n"
    "Prints the version, git commit, build date, compiler, OpenSSL and Boost versions.\n";

}  // namespace

const build_info& current_build() {
  static const build_info info{MLNETPOL_VERSION,
                               MLNETPOL_GIT_COMMIT,
                               MLNETPOL_BUILD_DATE,
                               compiler_name(),
                               OpenSSL_version(OPENSSL_VERSION),
                               boost_version()};
  return info;
}

std::string version_text() {
  const build_info& b = current_build();
  std::string out;
  auto line = [&](std::string_view key, std::string_view value) {
    out.append(key).append(": ").append(value).append("\n");
  };
  line("mlnetpol", b.version);
  line("commit", b.commit);
  line("built", b.build_date);
  line("compiler", b.compiler);
  line("openssl", b.openssl);
  line("boost", b.boost);
  return out;
}

int version_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(version_usage, stdout);
      return 0;
    }
    return usage_error("version", "unexpected argument '" + std::string(arg) + "'", version_usage);
  }
  const std::string text = version_text();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace mlnetpol::app
