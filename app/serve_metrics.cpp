#include "app/serve_metrics.hpp"

#include "app/version.hpp"

namespace mlnetpol::app {

void serve_metrics::set_policy_gauges(const policy_gauges& g) {
  std::lock_guard lock(gauges_mutex_);
  gauges_ = g;
}

void serve_metrics::render(std::string& out) const {
  using obs::append_single;
  const auto& build = current_build();
  obs::append_family_header(out, "mlnetpol_build_info", "gauge",
                            "Always 1; the labels say which build runs.");
  out += "mlnetpol_build_info{version=\"";
  obs::append_label_value(out, build.version);
  out += "\",commit=\"";
  obs::append_label_value(out, build.commit);
  out += "\"} 1\n";
  append_single(out, "mlnetpol_config_last_reload_success_timestamp_seconds", "gauge",
                "When the configuration in force was loaded, as a Unix timestamp.",
                config_loaded());
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
      {"mlnetpol_policies", "Network policies the configuration renders.", g.policy_count},
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
