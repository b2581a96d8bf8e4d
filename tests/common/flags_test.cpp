#include "common/flags.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using mlnetpol::flags::parser;
using mlnetpol::flags::wording;

namespace {

struct cli {
  std::string port;
  bool dev = false;
  std::vector<std::string> files;
  parser p;
  explicit cli(wording w = {}) : p(std::move(w)) {
    p.value("--port",
            [this](std::string_view v) -> std::string {
              if (v == "bad") return "--port: not a port number: 'bad'";
              port = v;
              return {};
            })
        .alias("-p", "--port")
        .toggle("--dev", [this] { dev = true; });
  }
};

}  // namespace

TEST_CASE("--flag value and --flag=value; toggles; aliases; --help stops") {
  cli a;
  REQUIRE(a.p.parse({"--port", "8443", "--dev"}).has_value());
  CHECK(a.port == "8443");
  CHECK(a.dev);
  cli b;
  CHECK_FALSE(*b.p.parse({"--port=9443"}));
  CHECK(b.port == "9443");
  cli c;
  CHECK_FALSE(*c.p.parse({"-p", "1"}));
  CHECK(c.port == "1");
  cli d;
  CHECK(*d.p.parse({"--dev", "--help", "--bogus"}));
}

TEST_CASE("errors: unknown flag with did-you-mean, missing value, bad value, stray argument") {
  cli a;
  CHECK(a.p.parse({"--prot", "1"}).error().message ==
        "unknown flag '--prot'; did you mean --port?");
  CHECK(a.p.parse({"--xyzzy-frobnicate"}).error().message == "unknown flag '--xyzzy-frobnicate'");
  CHECK(a.p.parse({"--port"}).error().message == "--port: missing value");
  CHECK(a.p.parse({"--port", "bad"}).error().message == "--port: not a port number: 'bad'");
  CHECK(a.p.parse({"--dev=1"}).error().message == "flag --dev takes no value");
  CHECK(a.p.parse({"file"}).error().message == "unexpected argument 'file'");
}

TEST_CASE("each command keeps its wording") {
  wording w;
  w.missing_value = "flag {} needs a value";
  w.dashes_mean_missing = true;
  w.empty_means_missing = true;
  cli a(w);
  CHECK(a.p.parse({"--port", "--dev"}).error().message == "flag --port needs a value");
  CHECK(a.p.parse({"--port="}).error().message == "flag --port needs a value");
  cli b;  // by default "--port --dev" gives --port the value "--dev"
  CHECK(b.p.parse({"--port", "--dev"}).has_value());
  CHECK(b.port == "--dev");
}

TEST_CASE("positional arguments when declared") {
  cli a;
  std::vector<std::string> files;
  a.p.positional([&](std::string_view v) -> std::string {
    files.emplace_back(v);
    return {};
  });
  REQUIRE(a.p.parse({"x.json", "-", "--dev"}).has_value());
  CHECK(files == std::vector<std::string>{"x.json", "-"});
}
