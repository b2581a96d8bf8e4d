#pragma once
// Runs the built mlnetpol binary with arguments (stdout and stderr together) for the CLI tests.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace mlnetpol::test {

inline std::string run_binary(const std::string& args, int& exit_code) {
  FILE* pipe = ::popen((std::string(MLNETPOL_BINARY) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace mlnetpol::test
