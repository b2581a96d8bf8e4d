#pragma once
// One function per `mlnetpol` subcommand; each returns the process exit code.
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "common/flags.hpp"

namespace mlnetpol::app {

int serve_command(int argc, char** argv);   // app/serve_command.cpp
int review_command(int argc, char** argv);  // app/review_command.cpp
int render_command(int argc, char** argv);  // app/render_command.cpp
int certs_command(int argc, char** argv);   // app/certs_command.cpp
int pause_command(int argc, char** argv);   // app/pause_command.cpp
int explain_command(int argc, char** argv); // app/explain_command.cpp
int matrix_command(int argc, char** argv);  // app/matrix_command.cpp
int flows_command(int argc, char** argv);   // app/flows_command.cpp

// "mlnetpol <command>: <message>" on stderr; 2, the exit code of every argument error.
inline int argument_error(std::string_view command, const std::string& message) {
  std::fprintf(stderr, "mlnetpol %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               message.c_str());
  return 2;
}

// "mlnetpol <command>: <message>", a blank line and the usage on stderr; 2.
inline int usage_error(std::string_view command, std::string_view message, const char* usage) {
  std::fprintf(stderr, "mlnetpol %.*s: %.*s\n\n%s", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data(), usage);
  return 2;
}

// A subcommand's arguments parsed: nullopt to go on, else the exit code once --help printed the
// usage to stdout (0) or printed "mlnetpol <command>: <error>" and the usage to stderr (2).
inline std::optional<int> parse_arguments(const flags::parser& p, int argc, char** argv,
                                          std::string_view command, const char* usage) {
  const auto parsed = p.parse(argc, argv);
  if (!parsed) return usage_error(command, parsed.error().message, usage);
  if (*parsed) {
    std::fputs(usage, stdout);
    return 0;
  }
  return std::nullopt;
}

}  // namespace mlnetpol::app
