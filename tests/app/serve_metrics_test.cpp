#include "app/serve_metrics.hpp"

#include <doctest/doctest.h>

#include <string>

using mlnetpol::app::serve_metrics;

TEST_CASE("the app's families: policy gauges and rejected reloads") {
  serve_metrics m;
  m.count_config_reload_failure();
  m.count_config_reload_failure();
  m.set_policy_gauges({.secured_namespaces = 5,
                       .policy_count = 17,
                       .cilium_mode_enabled = true,
                       .ml_policies_enabled = false});
  const std::string text = m.render();
  CHECK(m.config_reload_failures() == 2);
  CHECK(text.find("\nmlnetpol_config_reload_failures_total 2\n") != std::string::npos);
  CHECK(text.find("\nmlnetpol_secured_namespaces 5\n") != std::string::npos);
  CHECK(text.find("\nmlnetpol_policy_count 17\n") != std::string::npos);
  CHECK(text.find("\nmlnetpol_cilium_mode_enabled 1\n") != std::string::npos);
  CHECK(text.find("\nmlnetpol_ml_policies_enabled 0\n") != std::string::npos);
}
