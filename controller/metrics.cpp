#include "controller/metrics.hpp"

namespace mlnetpol::controller {

using obs::append_family_header;
using obs::append_single;

void controller_metrics::count_reconcile(std::string_view result, double seconds) {
  reconciles_.add({result});
  reconcile_duration_.observe(seconds);
}

void controller_metrics::count_request(std::string_view verb, std::string_view code) {
  requests_.add({verb, code});
}

void controller_metrics::set_managed(const std::map<std::string, std::size_t>& by_kind) {
  for (std::size_t i = 0; i < managed_kinds.size(); ++i) {
    const auto it = by_kind.find(std::string(managed_kinds[i]));
    managed_[i].set(it == by_kind.end() ? 0 : it->second);
  }
}

void controller_metrics::render(std::string& out) const {
  append_family_header(out, "mlnetpol_reconcile_total", "counter",
                       "Namespace reconciles by result.");
  reconciles_.render(out, "mlnetpol_reconcile_total");
  append_family_header(out, "mlnetpol_reconcile_duration_seconds", "histogram",
                       "Time one namespace reconcile took.");
  reconcile_duration_.render(out, "mlnetpol_reconcile_duration_seconds", "");
  append_family_header(out, "mlnetpol_managed_policies", "gauge",
                       "Managed policies in the cluster, by kind.");
  for (std::size_t i = 0; i < managed_kinds.size(); ++i) {
    obs::append_sample(out, "mlnetpol_managed_policies", "kind", managed_kinds[i],
                       managed_[i].value());
  }
  append_family_header(out, "mlnetpol_apiserver_requests_total", "counter",
                       "Kubernetes API requests by verb and code.");
  requests_.render(out, "mlnetpol_apiserver_requests_total");
  append_single(out, "mlnetpol_leader", "gauge", "1 while this replica holds the reconciler lease.",
                leader_.value());
  append_single(out, "mlnetpol_cilium_crd_missing", "gauge",
                "1 while CiliumNetworkPolicy is not served.", crd_missing_.value());
  append_single(out, "mlnetpol_renderer_errors_total", "counter",
                "Objects the API server rejected as invalid.", renderer_errors_.value());
  append_single(out, "mlnetpol_audit_would_apply_policies", "gauge",
                "Policies audit mode would apply.", audit_would_apply_.value());
  append_single(out, "mlnetpol_config_changes_held_total", "counter",
                "Configuration changes held because they would remove the policies of too many "
                "namespaces.",
                config_holds_.value());
  append_single(out, "mlnetpol_config_change_held", "gauge",
                "1 while a configuration change waits for its confirmation.", config_held_.value());
  append_single(out, "mlnetpol_pods_gated", "gauge",
                "Pods held by the mlnetpol.io/policy-set scheduling gate now.", gated_.value());
  append_single(out, "mlnetpol_pods_gated_over_threshold", "gauge",
                "Pods held by the scheduling gate longer than 60 s (manager_options::gate_alert_after).",
                gated_over_threshold_.value());
  append_single(out, "mlnetpol_gates_released_total", "counter",
                "Scheduling gates mlnetpol removed once the namespace's policy set was stored.",
                gates_released_.value());
  append_family_header(out, "mlnetpol_gate_held_seconds", "histogram",
                       "How long a pod was held by the scheduling gate before its release.");
  gate_held_.render(out, "mlnetpol_gate_held_seconds", "");
}

}  // namespace mlnetpol::controller
