#include "controller/desired_state.hpp"

#include <doctest/doctest.h>

using namespace mlnetpol;
using namespace mlnetpol::controller;

TEST_CASE("desired_state: each namespace rendered once per configuration, as the renderer does") {
  policy::config cfg;
  cfg.tenant_namespaces = {"team-a", "team-b"};
  desired_state d(cfg);
  const auto a = d.policies("team-a");
  CHECK(d.renders() == 1);
  CHECK(d.policies("team-a") == a);  // the same set, not a render again
  CHECK(d.renders() == 1);
  const auto expected = policy::render_policies(cfg, "team-a");
  REQUIRE(a->size() == expected.size());
  for (std::size_t i = 0; i < a->size(); ++i) CHECK((*a)[i].json == expected[i].json);
  CHECK(d.policies("default")->empty());
  CHECK(d.roles("team-b").tenant);
  CHECK_FALSE(d.roles("default").secured);

  // The module's outputs, counted from the same cache.
  const auto& s = d.summary();
  const auto direct = policy::summarize(cfg);
  CHECK(s.secured_namespaces == direct.secured_namespaces);
  CHECK(s.policy_count == direct.policy_count);
  const auto after = d.renders();
  CHECK(&d.summary() == &s);
  CHECK(d.renders() == after);

  // A new configuration is a new desired_state: nothing of the old renders is reused.
  policy::config changed = cfg;
  changed.cilium_mode = true;
  desired_state e(changed);
  CHECK(e.policies("team-a")->front().kind == "CiliumNetworkPolicy");
}
