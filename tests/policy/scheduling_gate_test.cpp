#include "policy/scheduling_gate.hpp"

#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>
#include <rapidjson/document.h>

#include "policy/policy_set.hpp"

using namespace mlnetpol::policy;
using nlohmann::json;

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// The pod as the API server holds it after the release patch, applied by nlohmann's RFC 6902
// implementation (independent of ours); throws when an operation (a test) fails.
json released(const json& pod) {
  const rapidjson::Document spec = parse(pod["spec"].dump());
  return pod.patch(json::parse(gate_release_patch(&spec)));
}

json gated_pod(const json& gates) {
  return {{"metadata", {{"name", "p"}, {"labels", {{"app", "x"}, {"mlnetpol.io/gated", "true"}}}}},
          {"spec", {{"containers", json::array()}, {"schedulingGates", gates}}}};
}

}  // namespace

TEST_CASE("the names shared with the admission policies") {
  CHECK(policy_set_annotation == "mlnetpol.io/policy-set");
  CHECK(policy_set_gate == "mlnetpol.io/policy-set");
  CHECK(policy_set_gated_label == "mlnetpol.io/gated");
}

TEST_CASE("a Pod CREATE is gated until the namespace's recorded set is the expected one") {
  const policy_set_state absent{"", "abc"};
  const policy_set_state stale{"old", "abc"};
  const policy_set_state in_place{"abc", "abc"};
  const auto enforce = enforcement_mode::enforce;
  CHECK(needs_scheduling_gate("CREATE", true, enforce, &absent));
  CHECK(needs_scheduling_gate("CREATE", true, enforce, &stale));
  CHECK(needs_scheduling_gate("CREATE", true, enforcement_mode::warn, &absent));
  CHECK_FALSE(needs_scheduling_gate("CREATE", true, enforce, &in_place));
  // Never on UPDATE (the API server refuses new gates), outside secured namespaces, under audit
  // (nothing is applied there) or without a controller to release it.
  CHECK_FALSE(needs_scheduling_gate("UPDATE", true, enforce, &absent));
  CHECK_FALSE(needs_scheduling_gate("CREATE", false, enforce, &absent));
  CHECK_FALSE(needs_scheduling_gate("CREATE", true, enforcement_mode::audit, &absent));
  CHECK_FALSE(needs_scheduling_gate("CREATE", true, enforce, nullptr));
  // A namespace this replica renders no set for has nothing that could be in place: gated while
  // the config says it is secured (the leader releases it once it has recorded the set).
  const policy_set_state none{"", ""};
  CHECK(needs_scheduling_gate("CREATE", true, enforce, &none));
}

TEST_CASE("the release patch removes only mlnetpol's gate, at its index, and the label") {
  SUBCASE("after another controller's gate") {
    const json pod = gated_pod(json::array({{{"name", "example.com/quota"}}, {{"name", "mlnetpol.io/policy-set"}}}));
    const json after = released(pod);
    CHECK(after["spec"]["schedulingGates"] == json::array({{{"name", "example.com/quota"}}}));
    CHECK(after["metadata"]["labels"] == json{{"app", "x"}});
  }
  SUBCASE("the only gate") {
    const json after = released(gated_pod(json::array({{{"name", "mlnetpol.io/policy-set"}}})));
    CHECK(after["spec"]["schedulingGates"] == json::array());
    CHECK_FALSE(after["metadata"]["labels"].contains("mlnetpol.io/gated"));
  }
  SUBCASE("the list changed after the patch was built: the test fails, nothing is removed") {
    const json pod = gated_pod(json::array({{{"name", "mlnetpol.io/policy-set"}}, {{"name", "b"}}}));
    const rapidjson::Document spec = parse(pod["spec"].dump());
    const json patch = json::parse(gate_release_patch(&spec));
    json changed = pod;
    changed["spec"]["schedulingGates"] = json::array({{{"name", "b"}}, {{"name", "mlnetpol.io/policy-set"}}});
    CHECK_THROWS(changed.patch(patch));
  }
  SUBCASE("no gate left (removed by an admin): only the label") {
    json pod = gated_pod(json::array());
    const json after = released(pod);
    CHECK_FALSE(after["metadata"]["labels"].contains("mlnetpol.io/gated"));
    CHECK(json::parse(gate_release_patch(nullptr)).size() == 2);
  }
}

TEST_CASE("policy_set_gate_index finds the gate by name") {
  const auto spec = parse(R"({"schedulingGates":[{"name":"a"},{"name":"mlnetpol.io/policy-set"}]})");
  CHECK(policy_set_gate_index(&spec) == 1u);
  const auto none = parse(R"({"schedulingGates":[{"name":"a"}]})");
  CHECK_FALSE(policy_set_gate_index(&none));
  const auto malformed = parse(R"({"schedulingGates":{"name":"mlnetpol.io/policy-set"}})");
  CHECK_FALSE(policy_set_gate_index(&malformed));
  CHECK_FALSE(policy_set_gate_index(nullptr));
}

TEST_CASE("gate_changes names a removed gate and any change of the label") {
  const auto gated = parse(
      R"({"metadata":{"labels":{"mlnetpol.io/gated":"true"}},"spec":{"schedulingGates":[{"name":"mlnetpol.io/policy-set"}]}})");
  const auto ungated = parse(R"({"metadata":{"labels":{}},"spec":{"schedulingGates":[]}})");
  const auto label_only = parse(
      R"({"metadata":{"labels":{}},"spec":{"schedulingGates":[{"name":"mlnetpol.io/policy-set"}]}})");
  const auto gate_only = parse(
      R"({"metadata":{"labels":{"mlnetpol.io/gated":"true"}},"spec":{"schedulingGates":[]}})");
  CHECK(gate_changes(&gated, &gated).empty());
  CHECK(gate_changes(&gated, &ungated).size() == 2);
  CHECK(gate_changes(&gated, &label_only) ==
        std::vector<std::string>{"removes label mlnetpol.io/gated"});
  CHECK(gate_changes(&gated, &gate_only) ==
        std::vector<std::string>{"removes the scheduling gate mlnetpol.io/policy-set"});
  CHECK(gate_changes(&ungated, &gate_only) ==
        std::vector<std::string>{"adds label mlnetpol.io/gated"});
}
