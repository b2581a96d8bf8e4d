#pragma once
// The configuration model: the original Terraform module's inputs (same names, meanings, defaults)
// plus mlnetpol's own keys. A plain value; parsing lives in policy/config_parse.hpp.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlnetpol::policy {

enum class enforcement_mode { enforce, warn, audit };

// The module's `inference_allowed_services` entry: {k8sService: {serviceName, namespace}}.
struct k8s_service_ref {
  std::string service_name;
  std::string namespace_name;
  friend bool operator==(const k8s_service_ref&, const k8s_service_ref&) = default;
};

// Pods that may send traffic in (e.g. the AWS Load Balancer Controller in kube-system).
struct pod_peer {
  std::string namespace_name;
  std::map<std::string, std::string> match_labels;
  friend bool operator==(const pod_peer&, const pod_peer&) = default;
};

struct config {
  // --- the module's inputs ---
  bool enabled = true;
  bool cilium_mode = false;
  std::vector<std::string> platform_namespaces{"argocd", "monitoring", "flux-system"};
  std::vector<std::string> tenant_namespaces{};
  bool enable_ml_policies = true;
  std::vector<std::string> ml_training_namespaces{"kubeflow", "training", "mlops"};
  std::vector<std::string> ml_inference_namespaces{"inference", "serving", "mlops"};
  std::vector<k8s_service_ref> inference_allowed_services{{"postgres", "database"},
                                                          {"redis", "database"}};

  // --- admission (label engine) ---
  enforcement_mode enforcement = enforcement_mode::enforce;  // key: enforcement_mode
  std::string label_key = "workload-type";
  std::vector<std::string> exempt_namespaces{"kube-system", "kube-public", "kube-node-lease",
                                             "mlnetpol-system"};
  std::vector<std::string> exempt_users{};
  std::vector<std::string> exempt_groups{};
  // Who besides the webhook's own service account may change or delete managed policies.
  std::vector<std::string> admin_groups{"system:masters"};
  // The webhook's own identity (its writes to managed policies are always allowed).
  std::string service_account = "system:serviceaccount:mlnetpol-system:mlnetpol";
  bool deny_host_network = true;

  // --- renderer ---
  std::string monitoring_namespace = "monitoring";
  std::vector<std::string> ingress_controller_namespaces{"ingress-nginx"};
  std::vector<pod_peer> ingress_controller_pods{
      {"kube-system", {{"app.kubernetes.io/name", "aws-load-balancer-controller"}}}};
  bool secure_ml_namespaces = true;   // default deny for every pod of an ML namespace
  bool standard_ml_policies = true;   // ML rules in standard (NetworkPolicy) mode
  std::vector<std::uint16_t> training_metrics_ports{8080, 9090};
  std::vector<std::uint16_t> inference_serving_ports{8080, 8000};
  std::vector<std::uint16_t> inference_metrics_ports{9090};
  // Cilium FQDN patterns (Cilium matchPattern syntax); the renderer issue fixes the module's list.
  std::vector<std::string> training_egress_fqdns{};
  std::vector<std::string> inference_egress_fqdns{};
  // Platform pods selected by `platform-https-only` carry this label key (empty: every pod).
  std::string platform_pod_selector_key = "app.kubernetes.io/part-of";
  // Ports platform pods may use to reach the kube-apiserver besides 443.
  std::vector<std::uint16_t> platform_api_server_ports{6443};
  // The monitoring namespace may scrape ML pods on their metrics ports.
  bool monitoring_scrapes_ml = true;

  friend bool operator==(const config&, const config&) = default;
};

}  // namespace mlnetpol::policy
