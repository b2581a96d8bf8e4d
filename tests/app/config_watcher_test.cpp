// config_watcher: the configuration in force is loaded at start (a bad file is fatal); a reload
// applies a changed good file, and keeps the last good one (reporting once) when the file is bad.
#include "app/config_watcher.hpp"

#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include "tests/support/files.hpp"

using mlnetpol::app::bad_configuration;
using mlnetpol::app::config_watcher;
using mlnetpol::testing::temp_dir;
using mlnetpol::testing::write_text;
using namespace std::chrono_literals;

namespace {

struct watched {
  boost::asio::io_context io;
  std::vector<mlnetpol::policy::config> applied;
  int failures = 0;
  std::shared_ptr<config_watcher> make(const std::filesystem::path& path) {
    return std::make_shared<config_watcher>(
        io, path, 1h, [this](const mlnetpol::policy::config& c) { applied.push_back(c); },
        [this] { ++failures; });
  }
  // Runs what reload_now() posted.
  void reload(config_watcher& w) {
    w.reload_now();
    io.restart();
    io.run();
  }
};

}  // namespace

TEST_CASE("config_watcher: no file means the embedded defaults, never re-read") {
  watched t;
  auto w = t.make("");
  CHECK_FALSE(w->loaded());
  w->load();
  CHECK(w->loaded());
  REQUIRE(t.applied.size() == 1);
  CHECK(t.applied[0] == mlnetpol::policy::config{});
  t.reload(*w);
  CHECK(t.applied.size() == 1);
  CHECK(t.failures == 0);
}

TEST_CASE("config_watcher: a file that does not load at start is fatal") {
  temp_dir dir;
  watched t;
  CHECK_THROWS_AS(t.make(dir.path / "missing.yaml")->load(), bad_configuration);
  write_text(dir.path / "bad.yaml", "tenant_namespaces: {not: a list}\n");
  auto w = t.make(dir.path / "bad.yaml");
  CHECK_THROWS_AS(w->load(), bad_configuration);
  CHECK_FALSE(w->loaded());
  CHECK(t.applied.empty());
}

TEST_CASE("config_watcher: reloads apply a changed file; a bad one keeps the last good") {
  temp_dir dir;
  const auto file = dir.path / "config.yaml";
  write_text(file, "tenant_namespaces: [team-a]\n");
  watched t;
  auto w = t.make(file);
  w->load();
  REQUIRE(t.applied.size() == 1);
  CHECK(t.applied[0].tenant_namespaces == std::vector<std::string>{"team-a"});

  t.reload(*w);  // unchanged bytes: nothing applied
  CHECK(t.applied.size() == 1);

  write_text(file, "tenant_namespaces: [team-a, team-b]\n");
  t.reload(*w);
  REQUIRE(t.applied.size() == 2);
  CHECK(t.applied[1].tenant_namespaces == std::vector<std::string>{"team-a", "team-b"});

  write_text(file, "tenant_namespaces: {not: a list}\n");
  t.reload(*w);
  CHECK(t.applied.size() == 2);  // rejected: the last good stays in force
  CHECK(t.failures == 1);
  t.reload(*w);  // the same bad bytes: not reported again
  CHECK(t.failures == 1);

  write_text(file, "tenant_namespaces: &t [*t]\n");  // an alias cycle: refused, the server lives
  t.reload(*w);
  CHECK(t.applied.size() == 2);
  CHECK(t.failures == 2);

  std::filesystem::remove(file);
  t.reload(*w);
  t.reload(*w);  // a read failure is reported once while it lasts
  CHECK(t.failures == 3);
  CHECK(t.applied.size() == 2);

  write_text(file, "tenant_namespaces: [team-c]\n");
  t.reload(*w);
  REQUIRE(t.applied.size() == 3);
  CHECK(t.applied[2].tenant_namespaces == std::vector<std::string>{"team-c"});
  w->stop();
  t.reload(*w);  // stopped: a posted reload does nothing
  CHECK(t.applied.size() == 3);
}
