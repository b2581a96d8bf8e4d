#include "controller/gated_pods.hpp"

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"

#include "policy/policy_set.hpp"

using namespace std::chrono_literals;
using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::make_event;

namespace {

k8s::object_meta pod(std::string ns, std::string name, bool labelled = true) {
  k8s::object_meta m;
  m.namespace_name = std::move(ns);
  m.name = std::move(name);
  m.spec = R"({"schedulingGates":[{"name":"gate"}]})";
  if (labelled) m.labels[std::string(policy::policy_set_gated_label)] = "true";
  return m;
}

}  // namespace

TEST_CASE("gated_pods: a relist keeps when each pod was first seen") {
  gated_pod_index index;
  const auto t0 = gated_pod_index::clock::now();
  auto listed = index.replace({pod("a", "p1"), pod("a", "p2"), pod("b", "p3")}, t0);
  CHECK(listed == std::set<std::string>{"a", "b"});
  CHECK(index.size() == 3);
  CHECK(index.held_longer_than(30s, t0 + 60s) == 3);
  // p2 gone, p4 new: only p1 and p3 keep t0.
  listed = index.replace({pod("a", "p1"), pod("b", "p3"), pod("b", "p4")}, t0 + 50s);
  CHECK(listed == std::set<std::string>{"a", "b"});
  CHECK(index.size() == 3);
  CHECK(index.held_longer_than(30s, t0 + 60s) == 2);
  const auto in_a = index.pods_of("a");
  REQUIRE(in_a.size() == 1);
  CHECK(in_a[0].first == "p1");
  CHECK(in_a[0].second.spec == R"({"schedulingGates":[{"name":"gate"}]})");
  CHECK(index.by_namespace(100) ==
        std::vector<std::pair<std::string, std::size_t>>{{"a", 1}, {"b", 2}});
  CHECK(index.by_namespace(1).size() == 1);
}

TEST_CASE("gated_pods: watch events add, keep and end a pod's entry") {
  gated_pod_index index;
  using type = k8s::watch_event::type;
  const auto t0 = gated_pod_index::clock::now();
  CHECK(index.apply(make_event(type::added, pod("a", "p1")), t0));
  CHECK(index.apply(make_event(type::modified, pod("a", "p1")),
                    t0 + 40s));  // since stays t0
  CHECK(index.held_longer_than(30s, t0 + 45s) == 1);
  // The label removed: a label-selected watch says DELETED, but either way the entry ends.
  CHECK_FALSE(index.apply(make_event(type::modified, pod("a", "p1", false)), t0 + 50s));
  CHECK(index.size() == 0);
  CHECK(index.apply(make_event(type::added, pod("a", "p2")), t0));
  CHECK_FALSE(index.apply(make_event(type::deleted, pod("a", "p2")), t0));
  CHECK(index.pods_of("a").empty());
  index.apply(make_event(type::added, pod("c", "p3")), t0);
  std::set<std::string> namespaces;
  index.namespaces(namespaces);
  CHECK(namespaces == std::set<std::string>{"c"});
  index.erase("c", "p3");  // released
  CHECK(index.size() == 0);
  index.erase("c", "p3");  // twice: nothing to do
}
