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
  const struct {
    std::string_view name;
    std::string_view help;
    std::uint64_t value;
  } gauges[] = {
      {"mlnetpol_secured_namespaces", "Namespaces the configuration secures.",
       g.secured_namespaces},
      {"mlnetpol_policy_count", "Network policies the configuration renders.", g.policy_count},
      {"mlnetpol_cilium_mode_enabled", "1 when CiliumNetworkPolicies are rendered.",
       g.cilium_mode_enabled},
      {"mlnetpol_ml_policies_enabled", "1 when the ML workload policies are enabled.",
       g.ml_policies_enabled},
  };
  for (const auto& gauge : gauges) append_single(out, gauge.name, "gauge", gauge.help, gauge.value);
}

std::string serve_metrics::render() const {
  std::string out;
  render(out);
  return out;
}

}  // namespace mlnetpol::app
