#include "app/serve_metrics.hpp"
#include "app/version.hpp"

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
  CHECK(text.find("\nmlnetpol_policies 17\n") != std::string::npos);
  CHECK(text.find("policy_count") == std::string::npos);
  CHECK(text.find("\nmlnetpol_cilium_mode_enabled 1\n") != std::string::npos);
  CHECK(text.find("\nmlnetpol_ml_policies_enabled 0\n") != std::string::npos);
}

TEST_CASE("build_info carries version and commit; the last configuration load is a timestamp") {
  serve_metrics m;
  CHECK(m.render().find("\nmlnetpol_config_last_reload_success_timestamp_seconds 0\n") !=
        std::string::npos);
  m.mark_config_loaded(1700000000.5);
  const std::string text = m.render();
  const auto& b = mlnetpol::app::current_build();
  CHECK(text.find("# TYPE mlnetpol_build_info gauge\nmlnetpol_build_info{version=\"" +
                  std::string(b.version) + "\",commit=\"" + std::string(b.commit) + "\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("\nmlnetpol_config_last_reload_success_timestamp_seconds 1700000000.5\n") !=
        std::string::npos);
}
