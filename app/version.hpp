#pragma once
// What this binary is: `mlnetpol version`, `--version`, and the labels of the
// mlnetpol_build_info{version,commit} gauge on /metrics.
#include <string>
#include <string_view>

namespace mlnetpol::app {

struct build_info {
  std::string_view version;     // the CMake project VERSION, e.g. "0.1.0"
  std::string_view commit;      // git commit (12 hex digits, "-dirty" suffix), or "unknown"
  std::string_view build_date;  // YYYY-MM-DD (UTC)
  std::string_view compiler;    // e.g. "GCC 12.2.0"
  std::string openssl;          // the library loaded at run time, e.g. "OpenSSL 3.0.11 19 Sep 2023"
  std::string boost;            // the headers built against, e.g. "1.81.0"
};

const build_info& current_build();

// The human-readable block `mlnetpol version` prints, one "key: value" per line.
std::string version_text();

int version_command(int argc, char** argv);

}  // namespace mlnetpol::app
