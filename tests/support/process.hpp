#pragma once
// Running commands from tests: a shell command's exit status and stdout, and the built mlnetpol
// binary (the one copy the CLI, e2e and docs tests use).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <utility>

namespace mlnetpol::testing {

struct command_result {
  int status = -1;  // the exit status; -1 when it did not exit normally or could not start
  std::string out;  // stdout (stderr as the command redirects it)
};

inline command_result run_command(const std::string& command) {
  command_result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    r.out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// s as one word for /bin/sh, whatever it holds.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

#ifdef MLNETPOL_BINARY
// The built `mlnetpol <args>` (args as the shell reads them): stdout and stderr together.
inline std::string run_binary(const std::string& args, int& exit_code) {
  auto r = run_command(shell_quote(MLNETPOL_BINARY) + " " + args + " 2>&1");
  exit_code = r.status;
  return std::move(r.out);
}
#endif

}  // namespace mlnetpol::testing
