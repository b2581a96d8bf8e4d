#pragma once
// The app's metric families: the build, the configuration in force (policy gauges, when it was
// loaded) and rejected reloads.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/obs/metrics.hpp"

namespace mlnetpol::app {

struct policy_gauges {
  std::size_t secured_namespaces = 0;
  std::size_t policy_count = 0;
  bool cilium_mode_enabled = false;
  bool ml_policies_enabled = false;
};

class serve_metrics {
 public:
  void count_config_reload_failure() { config_reload_failures_.add(); }
  void set_policy_gauges(const policy_gauges& g);
  // After every configuration put in force (the first load and each good reload).
  void mark_config_loaded(double unix_seconds = obs::unix_seconds_now()) {
    config_loaded_.set(unix_seconds);
  }
  double config_loaded() const { return config_loaded_.value(); }
  std::uint64_t config_reload_failures() const { return config_reload_failures_.value(); }

  void render(std::string& out) const;
  std::string render() const;

 private:
  obs::counter config_reload_failures_;
  obs::gauge<double> config_loaded_;
  mutable std::mutex gauges_mutex_;
  policy_gauges gauges_;
};

}  // namespace mlnetpol::app
