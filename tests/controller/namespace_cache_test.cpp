#include "controller/namespace_cache.hpp"

#include <atomic>
#include <thread>

#include <doctest/doctest.h>

using mlnetpol::controller::label_map;
using mlnetpol::controller::namespace_cache;

TEST_CASE("namespace_cache: nothing is known before the first list") {
  namespace_cache c;
  CHECK_FALSE(c.synced());
  c.upsert("a", {{"k", "v"}});
  CHECK(c.labels_of("a") == nullptr);
  c.replace({{"a", {{"k", "v"}}}});
  CHECK(c.synced());
  REQUIRE(c.labels_of("a"));
  CHECK(c.labels_of("a")->at("k") == "v");
  CHECK(c.labels_of("b") == nullptr);
}

TEST_CASE("namespace_cache: snapshots are immutable; a reader keeps the one it loaded") {
  namespace_cache c;
  c.replace({{"a", {{"k", "1"}}}, {"b", {}}});
  const auto before = c.snapshot();
  const auto a_before = c.labels_of("a");
  CHECK(c.upsert("a", {{"k", "2"}}));
  CHECK(c.erase("b"));
  CHECK(before->size() == 2);
  CHECK(a_before->at("k") == "1");
  CHECK(c.labels_of("a")->at("k") == "2");
  CHECK(c.snapshot()->size() == 1);
}

TEST_CASE("namespace_cache: unchanged labels are no change; relist reports what changed") {
  namespace_cache c;
  c.replace({{"a", {{"k", "1"}}}, {"b", {}}});
  const auto a = c.labels_of("a");
  CHECK_FALSE(c.upsert("a", {{"k", "1"}}));
  const auto changed = c.replace({{"a", {{"k", "1"}}}, {"c", {}}});
  CHECK(changed == std::vector<std::string>{"c", "b"});
  CHECK(c.labels_of("a") == a);  // shared, not copied
  CHECK_FALSE(c.erase("b"));
}

TEST_CASE("namespace_cache: readers run while a writer rewrites (no torn reads)") {
  namespace_cache c;
  c.replace({{"a", {{"n", "0"}, {"m", "0"}}}});
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      const auto l = c.labels_of("a");
      if (!l || l->at("n") != l->at("m")) ++torn;
    }
  });
  for (int i = 1; i < 2000; ++i) {
    const std::string v = std::to_string(i);
    c.upsert("a", {{"n", v}, {"m", v}});
  }
  done = true;
  reader.join();
  CHECK(torn == 0);
}

TEST_CASE("namespace_cache: recorded policy sets, from lists and events, reported as changes") {
  namespace_cache c;
  CHECK(c.recorded_policy_set("a").empty());  // not synced
  auto changed = c.replace({{"a", {}}, {"b", {}}}, {{"a", "h1"}});
  CHECK(c.recorded_policy_set("a") == "h1");
  CHECK(c.recorded_policy_set("b").empty());
  // A relist where only a recorded set changed reports that namespace.
  changed = c.replace({{"a", {}}, {"b", {}}}, {{"a", "h1"}, {"b", "h2"}});
  CHECK(changed == std::vector<std::string>{"b"});
  changed = c.replace({{"a", {}}, {"b", {}}}, {{"b", "h2"}});
  CHECK(changed == std::vector<std::string>{"a"});
  CHECK(c.set_policy_set("a", "h3"));
  CHECK_FALSE(c.set_policy_set("a", "h3"));
  CHECK(c.recorded_policy_set("a") == "h3");
  CHECK(c.set_policy_set("a", ""));
  CHECK(c.recorded_policy_set("a").empty());
  CHECK(c.set_policy_set("b", "h4"));
  c.erase("b");
  CHECK(c.recorded_policy_set("b").empty());
}
