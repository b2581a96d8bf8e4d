#pragma once
// The configuration model: the original Terraform module's inputs (same names, meanings, defaults)
// plus mlnetpol's own keys. A plain value; parsing lives in policy/config_parse.hpp.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mlnetpol::policy {

enum class enforcement_mode { enforce, warn, audit };

// The mode's name as configured and as in metrics and logs; constexpr so closed label sets are
// spelled from it.
constexpr std::string_view to_string(enforcement_mode mode) {
  switch (mode) {
    case enforcement_mode::enforce:
      return "enforce";
    case enforcement_mode::warn:
      return "warn";
    case enforcement_mode::audit:
      return "audit";
  }
  return "enforce";
}

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
  // Mode of the guardrails for tenant NetworkPolicies/CiliumNetworkPolicies (policy/guardrails.hpp)
  // in secured namespaces; not changed by a namespace's mlnetpol.io/enforcement label.
  enforcement_mode tenant_policy_guardrails = enforcement_mode::enforce;
  // Namespaces with any of these roles (platform, tenant, training, inference) refuse hostNetwork
  // pods when deny_host_network is on: a pod on the host network bypasses every policy.
  std::vector<std::string> deny_host_network_roles{"platform", "tenant", "training", "inference"};

  // --- renderer ---
  // Where Prometheus runs: ML pods accept scrapes from it on their metrics ports.
  std::string monitoring_namespace = "monitoring";
  // Every pod of these namespaces may reach inference pods on the serving ports.
  std::vector<std::string> ingress_controller_namespaces{"ingress-nginx"};
  // These pods too (the module's ALB controller in kube-system).
  std::vector<pod_peer> ingress_controller_pods{
      {"kube-system", {{"app.kubernetes.io/name", "aws-load-balancer-controller"}}}};
  bool secure_ml_namespaces = true;   // default deny for every pod of an ML namespace
  bool standard_ml_policies = true;   // ML rules in standard (NetworkPolicy) mode
  std::vector<std::uint16_t> training_metrics_ports{8080, 9090};  // scraped by monitoring
  std::vector<std::uint16_t> inference_serving_ports{8080, 8000};  // from ingress controllers
  std::vector<std::uint16_t> inference_metrics_ports{9090};        // scraped by monitoring
  // Egress of training pods by FQDN on TCP 443 (Cilium mode). Entries with `*` become matchPattern
  // (`*` stays inside one DNS label), the others matchName. S3, ECR, STS, CloudWatch; nothing else.
  std::vector<std::string> training_egress_fqdns{
      "s3.amazonaws.com",                // S3 global endpoint
      "*.s3.amazonaws.com",              // <bucket>.s3 (virtual-hosted, global); old ECR layer bucket
      "s3.*.amazonaws.com",              // s3.<region> (path style)
      "*.s3.*.amazonaws.com",            // <bucket>.s3.<region>; ECR layers (prod-<region>-starport-...)
      "s3.dualstack.*.amazonaws.com",    // dual-stack S3, path style
      "*.s3.dualstack.*.amazonaws.com",  // dual-stack S3, virtual-hosted
      "s3-*.amazonaws.com",              // legacy s3-<region> and s3-external-1
      "*.s3-*.amazonaws.com",            // legacy <bucket>.s3-<region>
      "*.s3-accesspoint.*.amazonaws.com",  // S3 access points
      "api.ecr.*.amazonaws.com",         // ECR API (GetAuthorizationToken, ...)
      "ecr.*.amazonaws.com",             // ECR API, short form
      "*.dkr.ecr.*.amazonaws.com",       // ECR registry <account>.dkr.ecr.<region>
      "sts.amazonaws.com",               // STS global
      "sts.*.amazonaws.com",             // STS regional (IRSA)
      "monitoring.*.amazonaws.com",      // CloudWatch metrics
      "logs.*.amazonaws.com"};           // CloudWatch Logs
  // Egress of inference pods by FQDN on TCP 443 (Cilium mode): S3 only (model artifacts).
  std::vector<std::string> inference_egress_fqdns{
      "s3.amazonaws.com",       "*.s3.amazonaws.com",           "s3.*.amazonaws.com",
      "*.s3.*.amazonaws.com",   "s3.dualstack.*.amazonaws.com", "*.s3.dualstack.*.amazonaws.com",
      "s3-*.amazonaws.com",     "*.s3-*.amazonaws.com",         "*.s3-accesspoint.*.amazonaws.com"};
  // Platform pods selected by `platform-https-only` carry this label key (empty: every pod).
  std::string platform_pod_selector_key = "app.kubernetes.io/part-of";
  // Ports the kube-apiserver answers on after Service translation (EKS 443, kubeadm 6443); training
  // and platform pods may reach it there.
  std::vector<std::uint16_t> api_server_ports{443, 6443};
  // Standard mode only (NetworkPolicy cannot name the API server): CIDRs of the API server
  // endpoints; empty allows the api_server_ports to any address.
  std::vector<std::string> api_server_cidrs{};
  // The monitoring namespace may scrape ML pods on their metrics ports (policy monitoring-scrape-ml).
  bool monitoring_scrapes_ml = true;
  // Cilium: spell out spec.enableDefaultDeny in default-deny-with-dns (a field of the CRD since
  // Cilium 1.15; older CRDs answer 500). The empty ingress rule denies either way.
  bool cilium_default_deny_field = true;
  // Standard mode: render platform-https-only's rules as NetworkPolicy platform-egress-https (the
  // module renders none, so platform tools would lose all egress but DNS).
  bool standard_platform_policies = true;
  // Standard mode stand-in for FQDN rules: TCP 443 to 0.0.0.0/0 except these (private, CGNAT,
  // link-local incl. the instance metadata service).
  std::vector<std::string> https_egress_except_cidrs{"10.0.0.0/8", "172.16.0.0/12",
                                                     "192.168.0.0/16", "100.64.0.0/10",
                                                     "169.254.0.0/16"};

  friend bool operator==(const config&, const config&) = default;
};

}  // namespace mlnetpol::policy
