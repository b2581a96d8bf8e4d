#include "controller/config_guard.hpp"

#include <doctest/doctest.h>

using namespace mlnetpol;
using namespace mlnetpol::controller;

TEST_CASE("config_guard: allowed removals are the smaller of the limits, at least one") {
  const removal_limits defaults;
  CHECK(allowed_removals(0, defaults) == 1);
  CHECK(allowed_removals(5, defaults) == 1);  // 10 % of 5 rounds down to 0: one is allowed
  CHECK(allowed_removals(10, defaults) == 1);
  CHECK(allowed_removals(25, defaults) == 2);
  CHECK(allowed_removals(499, defaults) == 49);
  CHECK(allowed_removals(500, defaults) == 50);
  CHECK(allowed_removals(10'000, defaults) == 50);  // 10 % would be 1,000: 50 is the cap
  CHECK(allowed_removals(10'000, removal_limits{100, 1'000'000}) == 10'000);  // guard off
  CHECK(allowed_removals(40, removal_limits{50, 50}) == 20);
  CHECK(allowed_removals(40, removal_limits{250, 50}) == 40);  // a percent above 100 counts as 100
}

TEST_CASE("config_guard: a change is held when it strips more namespaces than allowed") {
  policy::config before;
  before.platform_namespaces = {};
  before.tenant_namespaces = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"};
  const std::vector<std::string> holding = before.tenant_namespaces;
  CHECK_FALSE(check_removal(before, holding, {}).held());
  CHECK(check_removal(before, holding, {}).removed.empty());

  // One namespace of ten leaves: allowed (the ordinary way to unsecure one).
  policy::config one = before;
  one.tenant_namespaces.pop_back();
  const auto r1 = check_removal(one, holding, {});
  CHECK(r1.removed == std::vector<std::string>{"t9"});
  CHECK(r1.allowed == 1);
  CHECK_FALSE(r1.held());

  // Six of ten (60 %) leave: held.
  policy::config six = before;
  six.tenant_namespaces = {"t0", "t1", "t2", "t3"};
  const auto r6 = check_removal(six, holding, {});
  CHECK(r6.removed == std::vector<std::string>{"t4", "t5", "t6", "t7", "t8", "t9"});
  CHECK(r6.holding == 10);
  CHECK(r6.held());
  CHECK_FALSE(check_removal(six, holding, removal_limits{60, 50}).held());

  // Moving namespaces between roles removes nothing.
  policy::config moved = before;
  moved.tenant_namespaces = {};
  moved.platform_namespaces = holding;
  CHECK_FALSE(check_removal(moved, holding, {}).held());

  // enabled: false renders nothing anywhere.
  policy::config off = before;
  off.enabled = false;
  CHECK(check_removal(off, holding, {}).removed.size() == 10);
}

TEST_CASE("config_guard: the digest names one configuration") {
  policy::config a, b;
  b.tenant_namespaces = {"t0"};
  CHECK(config_digest(a) == config_digest(policy::config{}));
  CHECK(config_digest(a) != config_digest(b));
  CHECK(config_digest(a).size() == 16);
  CHECK(confirm_command("mlnetpol-system", "0123456789abcdef") ==
        "kubectl annotate namespace mlnetpol-system mlnetpol.io/confirm-config=0123456789abcdef "
        "--overwrite");
}
