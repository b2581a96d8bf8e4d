#include "controller/managed_index.hpp"

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"

#include "policy/labels.hpp"

using namespace mlnetpol;
using namespace mlnetpol::controller;
using controller::testing::make_event;

namespace {

const std::string np(k8s::network_policies.kind);
const std::string cnp(k8s::cilium_network_policies.kind);

k8s::object_meta object(std::string ns, std::string name, std::string rv) {
  k8s::object_meta m;
  m.namespace_name = std::move(ns);
  m.name = std::move(name);
  m.resource_version = std::move(rv);
  m.uid = "uid-" + m.name;
  m.labels["app.kubernetes.io/managed-by"] = "mlnetpol";
  m.annotations[std::string(policy::spec_hash_annotation)] = "h1";
  m.annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{...}";
  return m;
}

std::vector<std::string> names(const std::optional<prelisted>& p) {
  std::vector<std::string> out;
  for (const auto& o : p->objects) out.push_back(o.kind + "/" + o.name);
  return out;
}

}  // namespace

TEST_CASE("managed_index: compact keeps only what a reconcile reads") {
  const auto m = compact(object("a", "deny", "1"));
  CHECK(m.labels.empty());
  CHECK(m.uid.empty());
  CHECK(m.annotations.size() == 1);
  CHECK(m.annotations.at(std::string(policy::spec_hash_annotation)) == "h1");
  CHECK(m.resource_version == "1");
}

TEST_CASE("managed_index: synced once each kind is listed, or Cilium is known missing") {
  managed_index index;
  CHECK_FALSE(index.synced(false));
  CHECK_FALSE(index.objects_of("a", false).has_value());
  index.replace(np, {});
  CHECK(index.listed(np));
  CHECK_FALSE(index.synced(false));
  CHECK(index.synced(true));  // no CiliumNetworkPolicy CRD: nothing more to wait for
  REQUIRE(index.objects_of("a", true).has_value());
  CHECK(index.objects_of("a", true)->cilium_missing);
  index.replace(cnp, {});
  CHECK(index.synced(false));
  CHECK(index.objects_of("a", false)->objects.empty());
}

TEST_CASE("managed_index: a relist reports exactly the namespaces whose objects changed") {
  managed_index index;
  std::vector<k8s::object_meta> first{object("a", "deny", "1"), object("a", "dns", "2"),
                                      object("b", "deny", "3")};
  auto changed = index.replace(np, std::move(first));
  CHECK(changed == std::vector<std::string>{"a", "b"});  // new namespaces
  CHECK(index.total() == 3);
  CHECK(index.counts().at(np) == 3);

  // The same list again: nothing changed.
  CHECK(index
            .replace(np,
                     {object("a", "deny", "1"), object("a", "dns", "2"), object("b", "deny", "3")})
            .empty());
  // a's dns edited (new resourceVersion), b's deny gone, c new.
  changed = index.replace(
      np, {object("a", "deny", "1"), object("a", "dns", "9"), object("c", "deny", "4")});
  CHECK(changed == std::vector<std::string>{"a", "b", "c"});
  CHECK(index.total() == 3);
  CHECK_FALSE(index.holds("b"));
  CHECK(index.holds("c"));

  // Another kind's relist leaves these alone and counts apart.
  changed = index.replace(cnp, {object("a", "cilium-deny", "5")});
  CHECK(changed == std::vector<std::string>{"a"});
  CHECK(index.counts().at(np) == 3);
  CHECK(index.counts().at(cnp) == 1);
  changed = index.replace(cnp, {});
  CHECK(changed == std::vector<std::string>{"a"});
  CHECK(index.counts().at(np) == 3);
  CHECK(index.counts().at(cnp) == 0);
  CHECK(index.holds("a"));  // its NetworkPolicies remain
}

TEST_CASE("managed_index: watch events keep the objects and the counts") {
  managed_index index;
  index.replace(np, {});
  index.replace(cnp, {});
  using type = k8s::watch_event::type;
  index.apply(np, make_event(type::added, object("a", "deny", "1")));
  index.apply(np,
              make_event(type::modified, object("a", "deny", "2")));    // same object: counted once
  index.apply(cnp, make_event(type::added, object("a", "deny", "3")));  // same name, other kind
  CHECK(index.total() == 2);
  const auto held = index.objects_of("a", false);
  REQUIRE(held.has_value());
  CHECK(names(held) == std::vector<std::string>{"CiliumNetworkPolicy/deny", "NetworkPolicy/deny"});
  for (const auto& o : held->objects) CHECK(o.labels.empty());  // compacted
  CHECK(held->objects[1].resource_version == "2");

  index.apply(np, make_event(type::deleted, object("a", "deny", "2")));
  index.apply(np, make_event(type::deleted, object("a", "deny", "2")));  // twice: counted once
  CHECK(index.counts().at(np) == 0);
  CHECK(index.holds("a"));
  index.apply(cnp, make_event(type::deleted, object("a", "deny", "3")));
  CHECK_FALSE(index.holds("a"));
  CHECK(index.total() == 0);
  std::set<std::string> namespaces;
  index.namespaces(namespaces);
  CHECK(namespaces.empty());
}
