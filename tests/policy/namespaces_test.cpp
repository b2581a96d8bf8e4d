#include "policy/namespaces.hpp"

#include <doctest/doctest.h>

#include "policy/render/render.hpp"

using namespace mlnetpol;

namespace {

policy::config overlapping() {
  policy::config cfg;
  cfg.platform_namespaces = {"argocd", "monitoring", "argocd"};
  cfg.tenant_namespaces = {"team-a", "monitoring", "team-b"};
  cfg.ml_training_namespaces = {"training", "mlops", "team-a"};
  cfg.ml_inference_namespaces = {"serving", "mlops"};
  return cfg;
}

bool same(const policy::namespace_roles& a, const policy::namespace_roles& b) {
  return a.platform == b.platform && a.tenant == b.tenant && a.training == b.training &&
         a.inference == b.inference && a.secured == b.secured;
}

}  // namespace

TEST_CASE("namespace lists: first-seen order, no duplicates") {
  const auto cfg = overlapping();
  CHECK(policy::secured_namespaces(cfg) ==
        std::vector<std::string>{"argocd", "monitoring", "team-a", "team-b", "training", "mlops",
                                 "serving"});
  auto unsecured_ml = cfg;
  unsecured_ml.secure_ml_namespaces = false;
  CHECK(policy::secured_namespaces(unsecured_ml) ==
        std::vector<std::string>{"argocd", "monitoring", "team-a", "team-b"});
  CHECK(policy::policy_namespaces(unsecured_ml) ==
        std::vector<std::string>{"argocd", "monitoring", "team-a", "team-b", "training", "mlops",
                                 "serving"});
  auto off = cfg;
  off.enabled = false;
  CHECK(policy::policy_namespaces(off).empty());
}

TEST_CASE("namespace_index: the roles roles_of gives, for every variant of the switches") {
  for (const bool enabled : {true, false}) {
    for (const bool ml : {true, false}) {
      for (const bool secure_ml : {true, false}) {
        auto cfg = overlapping();
        cfg.enabled = enabled;
        cfg.enable_ml_policies = ml;
        cfg.secure_ml_namespaces = secure_ml;
        const policy::namespace_index index(cfg);
        CHECK(index.secured() == policy::secured_namespaces(cfg));
        CHECK(index.policy_namespaces() == policy::policy_namespaces(cfg));
        for (const char* ns : {"argocd", "monitoring", "team-a", "team-b", "training", "mlops",
                               "serving", "default"}) {
          CAPTURE(ns);
          CHECK(same(index.roles(ns), policy::roles_of(cfg, ns)));
          // The per-namespace render with known roles is the filtered render.
          const auto one = policy::render_namespace(cfg, ns, index.roles(ns));
          const auto filtered = policy::render_policies(cfg, ns);
          REQUIRE(one.size() == filtered.size());
          for (std::size_t i = 0; i < one.size(); ++i) CHECK(one[i].json == filtered[i].json);
        }
      }
    }
  }
}

TEST_CASE("namespace lists of thousands of names stay duplicate-free and ordered") {
  policy::config cfg;
  for (int i = 0; i < 5000; ++i) cfg.tenant_namespaces.push_back("t" + std::to_string(i % 4000));
  const auto secured = policy::secured_namespaces(cfg);
  // The three platform namespaces, the tenants, the five ML ones (mlops once).
  REQUIRE(secured.size() == 3 + 4000 + 5);
  CHECK(secured[3] == "t0");
  CHECK(secured[3 + 3999] == "t3999");
  const policy::namespace_index index(cfg);
  CHECK(index.roles("t3999").tenant);
  CHECK_FALSE(index.roles("t4000").tenant);
}
