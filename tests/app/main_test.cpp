#include <doctest/doctest.h>

#include <string>

#include "tests/support/process.hpp"

using mlnetpol::testing::run_binary;

TEST_CASE("main: a mistyped command exits 2 naming the closest command and the usage") {
  int code = -1;
  std::string out = run_binary("reveiw", code);
  CHECK(code == 2);
  CHECK(out.rfind("mlnetpol: unknown command 'reveiw'; did you mean review?\n", 0) == 0);
  CHECK(out.find("usage: mlnetpol <command> [flags]") != std::string::npos);

  out = run_binary("frobnicate", code);  // nothing close: no guess
  CHECK(code == 2);
  CHECK(out.rfind("mlnetpol: unknown command 'frobnicate'\n", 0) == 0);

  out = run_binary("", code);
  CHECK(code == 2);
  out = run_binary("help", code);
  CHECK(code == 0);
}
