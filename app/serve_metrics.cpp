#include "app/serve_metrics.hpp"

namespace mlnetpol::app {

void serve_metrics::set_policy_gauges(const policy_gauges& g) {
  std::lock_guard lock(gauges_mutex_);
  gauges_ = g;
}

void serve_metrics::render(std::string& out) const {
  using obs::append_single;
  append_single(out, "mlnetpol_config_reload_failures_total", "counter",
                "Configuration reloads rejected (the last good configuration stays in force).",
                config_reload_failures());
  policy_gauges g;
  {
    std::lock_guard lock(gauges_mutex_);
    g = gauges_;
  }
  append_single(out, "mlnetpol_secured_namespaces", "gauge",
                "Namespaces the configuration secures.",
                static_cast<std::uint64_t>(g.secured_namespaces));
  append_single(out, "mlnetpol_policy_count", "gauge",
                "Network policies the configuration renders.",
                static_cast<std::uint64_t>(g.policy_count));
  append_single(out, "mlnetpol_cilium_mode_enabled", "gauge",
                "1 when CiliumNetworkPolicies are rendered.",
                static_cast<std::uint64_t>(g.cilium_mode_enabled));
  append_single(out, "mlnetpol_ml_policies_enabled", "gauge",
                "1 when the ML workload policies are enabled.",
                static_cast<std::uint64_t>(g.ml_policies_enabled));
}

std::string serve_metrics::render() const {
  std::string out;
  render(out);
  return out;
}

}  // namespace mlnetpol::app
