#include "policy/render/model.hpp"

#include <algorithm>
#include <string_view>

#include "policy/namespaces.hpp"

namespace mlnetpol::policy::render {
namespace {

constexpr std::string_view https_only_cidr_v4 = "0.0.0.0/0";

peer kind_peer(peer_kind kind) {
  peer p;
  p.kind = kind;
  return p;
}

}  // namespace

rule dns_rule(bool cilium) {
  rule r;
  r.peers.push_back(kind_peer(peer_kind::kube_dns));
  r.ports.push_back({53, protocol::any});
  r.dns_l7 = cilium;
  r.what = "DNS";
  return r;
}

namespace {

peer pods_peer(pod_group pods) {
  peer p = kind_peer(peer_kind::pods);
  p.pods = std::move(pods);
  return p;
}

peer cidr_peer(peer_kind kind, std::string cidr, std::vector<std::string> except) {
  peer p = kind_peer(kind);
  p.cidr = std::move(cidr);
  p.except = std::move(except);
  return p;
}

peer fqdns_peer(std::vector<std::string> names) {
  peer p = kind_peer(peer_kind::fqdns);
  p.names = std::move(names);
  return p;
}

peer service_peer(k8s_service_ref service) {
  peer p = kind_peer(peer_kind::service);
  p.service = std::move(service);
  return p;
}

std::vector<port> tcp_ports(const std::vector<std::uint16_t>& numbers) {
  std::vector<port> out;
  for (std::uint16_t n : numbers) out.push_back({n, protocol::tcp});
  return out;
}

pod_group labelled(const config& cfg, const std::string& ns, const char* workload) {
  return {ns, {{cfg.label_key, workload}}, {}};
}

rule pods_rule(pod_group pods, std::vector<port> ports, std::string what) {
  rule r;
  r.peers.push_back(pods_peer(std::move(pods)));
  r.ports = std::move(ports);
  r.what = std::move(what);
  return r;
}

// An empty port list means "no such rule" (in a policy, no ports would mean every port).
void push_if_ports(std::vector<rule>& rules, rule r) {
  if (!r.ports.empty()) rules.push_back(std::move(r));
}

rule monitoring_rule(const config& cfg, const std::vector<std::uint16_t>& ports) {
  return pods_rule({cfg.monitoring_namespace, {}, {}}, tcp_ports(ports), "metrics scrape");
}

// Standard mode: TCP 443 to public addresses, the stand-in for Cilium's FQDN rules.
rule public_https_rule(const config& cfg, std::string what) {
  rule r;
  r.peers.push_back(
      cidr_peer(peer_kind::cidr, std::string(https_only_cidr_v4), cfg.https_egress_except_cidrs));
  r.ports.push_back({443, protocol::tcp});
  r.what = std::move(what);
  return r;
}

rule api_server_rule(const config& cfg) {
  rule r;
  if (cfg.cilium_mode || cfg.api_server_cidrs.empty()) {
    r.peers.push_back(kind_peer(cfg.cilium_mode ? peer_kind::api_server : peer_kind::anywhere));
  } else {
    for (const auto& cidr : cfg.api_server_cidrs) {
      r.peers.push_back(cidr_peer(peer_kind::api_server, cidr, {}));
    }
  }
  r.ports = tcp_ports(cfg.api_server_ports);
  r.what = "Kubernetes API";
  return r;
}

rule fqdn_rule(const std::vector<std::string>& names, std::string what) {
  rule r;
  r.peers.push_back(fqdns_peer(names));
  r.ports.push_back({443, protocol::tcp});
  r.what = std::move(what);
  return r;
}

policy_model base(const config& cfg, std::string name, const std::string& ns,
                  std::string description) {
  policy_model m;
  m.cilium = cfg.cilium_mode;
  m.name = std::move(name);
  m.namespace_name = ns;
  m.description = std::move(description);
  m.selector.namespace_name = ns;
  return m;
}

// --- standard mode (NetworkPolicy) ---

void standard_default_deny(const config& cfg, const std::string& ns,
                           std::vector<policy_model>& out) {
  auto ingress = base(cfg, "default-deny-ingress", ns, "default deny ingress for every pod");
  ingress.ingress_type = true;
  out.push_back(std::move(ingress));
  auto egress = base(cfg, "default-deny-egress", ns, "default deny egress for every pod");
  egress.egress_type = true;
  out.push_back(std::move(egress));
  auto dns = base(cfg, "allow-dns", ns, "DNS to kube-dns for every pod");
  dns.egress_type = true;
  dns.egress.push_back(dns_rule(false));
  out.push_back(std::move(dns));
}

// platform-https-only (Cilium) and its NetworkPolicy twin: egress 443 anywhere, the API server, DNS.
void platform_policy(const config& cfg, const std::string& ns, const char* name,
                     const char* description, bool dns_proxy, std::vector<policy_model>& out) {
  auto m = base(cfg, name, ns, description);
  m.selector.exists_key = cfg.platform_pod_selector_key;
  m.egress_type = true;
  rule https;
  https.peers.push_back(kind_peer(peer_kind::anywhere));
  https.ports.push_back({443, protocol::tcp});
  https.what = "HTTPS";
  m.egress.push_back(std::move(https));
  push_if_ports(m.egress, api_server_rule(cfg));
  m.egress.push_back(dns_rule(dns_proxy));
  out.push_back(std::move(m));
}

// Both modes: training pods talk to each other both ways and accept scrapes from monitoring.
void training_peers(const config& cfg, const std::string& ns, policy_model& m) {
  m.selector = labelled(cfg, ns, "training");
  m.ingress_type = m.egress_type = true;
  m.ingress.push_back(pods_rule(labelled(cfg, ns, "training"), {}, "all-reduce / NCCL"));
  push_if_ports(m.ingress, monitoring_rule(cfg, cfg.training_metrics_ports));
  m.egress.push_back(pods_rule(labelled(cfg, ns, "training"), {}, "all-reduce / NCCL"));
}

void standard_platform(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  platform_policy(cfg, ns, "platform-egress-https",
                  "platform pods: egress HTTPS (443) and the Kubernetes API only", false, out);
}

void standard_training(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  auto m = base(cfg, "ml-training-allow", ns,
                "training pods: each other, metrics scrape, DNS, HTTPS to public addresses, "
                "Kubernetes API");
  training_peers(cfg, ns, m);
  m.egress.push_back(public_https_rule(cfg, "HTTPS to public addresses (AWS)"));
  push_if_ports(m.egress, api_server_rule(cfg));
  m.egress.push_back(dns_rule(false));
  out.push_back(std::move(m));
}

// Ingress-controller peers: whole namespaces and selected pods.
rule ingress_controllers_rule(const config& cfg) {
  rule r;
  for (const auto& ns : cfg.ingress_controller_namespaces) {
    r.peers.push_back(pods_peer({ns, {}, {}}));
  }
  for (const auto& p : cfg.ingress_controller_pods) {
    r.peers.push_back(pods_peer({p.namespace_name, p.match_labels, {}}));
  }
  r.ports = tcp_ports(cfg.inference_serving_ports);
  r.what = "serving";
  return r;
}

// Both modes: inference pods accept the ingress controllers and monitoring.
void inference_ingress(const config& cfg, const std::string& ns, policy_model& m) {
  m.selector = labelled(cfg, ns, "inference");
  m.ingress_type = m.egress_type = true;
  rule controllers = ingress_controllers_rule(cfg);
  if (!controllers.peers.empty()) push_if_ports(m.ingress, std::move(controllers));
  push_if_ports(m.ingress, monitoring_rule(cfg, cfg.inference_metrics_ports));
}

void standard_inference(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  auto m = base(cfg, "ml-inference-allow", ns,
                "inference pods: ingress controllers, metrics scrape, DNS, HTTPS to public "
                "addresses, the namespaces of the allowed services");
  inference_ingress(cfg, ns, m);
  m.egress.push_back(public_https_rule(cfg, "HTTPS to public addresses (S3)"));
  // NetworkPolicy cannot select a Service: every pod of the service's namespace stands in for it.
  rule services;
  for (const auto& svc : cfg.inference_allowed_services) {
    const bool seen = std::any_of(services.peers.begin(), services.peers.end(), [&](const peer& p) {
      return p.pods.namespace_name == svc.namespace_name;
    });
    if (!seen) {
      services.peers.push_back(pods_peer({svc.namespace_name, {}, {}}));
    }
  }
  services.what = "allowed services";
  if (!services.peers.empty()) m.egress.push_back(std::move(services));
  m.egress.push_back(dns_rule(false));
  out.push_back(std::move(m));
}

// --- Cilium mode (CiliumNetworkPolicy) ---

void cilium_default_deny(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  auto m = base(cfg, "default-deny-with-dns", ns,
                "Default deny (ingress and egress) for every endpoint; DNS to kube-dns through the "
                "DNS proxy");
  m.ingress_type = m.egress_type = true;
  m.explicit_default_deny = cfg.cilium_default_deny_field;
  m.egress.push_back(dns_rule(true));
  out.push_back(std::move(m));
}

void cilium_platform(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  platform_policy(cfg, ns, "platform-https-only",
                  "Platform pods: egress HTTPS (443) only, the Kubernetes API and DNS", true, out);
}

void cilium_training(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  auto m = base(cfg, "ml-training-egress", ns,
                "Training pods: each other (all-reduce/NCCL), AWS (S3, ECR, STS, CloudWatch) by "
                "FQDN, the Kubernetes API, DNS; ingress from each other and monitoring");
  training_peers(cfg, ns, m);
  if (!cfg.training_egress_fqdns.empty()) {
    m.egress.push_back(fqdn_rule(cfg.training_egress_fqdns, "AWS: S3, ECR, STS, CloudWatch"));
  }
  push_if_ports(m.egress, api_server_rule(cfg));
  m.egress.push_back(dns_rule(true));
  out.push_back(std::move(m));
}

void cilium_inference(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  auto m = base(cfg, "ml-inference-policy", ns,
                "Inference pods: S3 by FQDN, the allowed services, DNS; ingress from ingress "
                "controllers and monitoring");
  inference_ingress(cfg, ns, m);
  if (!cfg.inference_egress_fqdns.empty()) {
    m.egress.push_back(fqdn_rule(cfg.inference_egress_fqdns, "AWS: S3"));
  }
  rule services;
  for (const auto& svc : cfg.inference_allowed_services) {
    services.peers.push_back(service_peer(svc));
  }
  services.what = "allowed services";
  if (!services.peers.empty()) m.egress.push_back(std::move(services));
  m.egress.push_back(dns_rule(true));
  out.push_back(std::move(m));
}

// --- both modes ---

// The monitoring namespace is default-deny for egress when secured; its scrapes of ML pods need
// an egress allow there too (the module allows them only at the ML pods' ingress).
void monitoring_scrape(const config& cfg, const std::string& ns, std::vector<policy_model>& out) {
  auto m = base(cfg, "monitoring-scrape-ml", ns,
                "Monitoring pods may scrape ML pods on their metrics ports");
  m.egress_type = true;
  for (const auto& training_ns : cfg.ml_training_namespaces) {
    push_if_ports(m.egress, pods_rule(labelled(cfg, training_ns, "training"),
                                      tcp_ports(cfg.training_metrics_ports), "metrics scrape"));
  }
  for (const auto& inference_ns : cfg.ml_inference_namespaces) {
    push_if_ports(m.egress, pods_rule(labelled(cfg, inference_ns, "inference"),
                                      tcp_ports(cfg.inference_metrics_ports), "metrics scrape"));
  }
  if (!m.egress.empty()) out.push_back(std::move(m));
}

}  // namespace

std::vector<policy_model> namespace_models(const config& cfg, const std::string& ns,
                                           const namespace_roles& roles) {
  std::vector<policy_model> here;
  const bool scrape = cfg.monitoring_scrapes_ml && cfg.enable_ml_policies && roles.secured &&
                      ns == cfg.monitoring_namespace;
  if (cfg.cilium_mode) {
    if (roles.secured) cilium_default_deny(cfg, ns, here);
    if (roles.platform) cilium_platform(cfg, ns, here);
    if (roles.training) cilium_training(cfg, ns, here);
    if (roles.inference) cilium_inference(cfg, ns, here);
  } else {
    if (roles.secured) standard_default_deny(cfg, ns, here);
    if (roles.platform && cfg.standard_platform_policies) standard_platform(cfg, ns, here);
    if (roles.training && cfg.standard_ml_policies) standard_training(cfg, ns, here);
    if (roles.inference && cfg.standard_ml_policies) standard_inference(cfg, ns, here);
  }
  if (scrape) monitoring_scrape(cfg, ns, here);
  std::sort(here.begin(), here.end(),
            [](const policy_model& a, const policy_model& b) { return a.name < b.name; });
  return here;
}

std::vector<policy_model> build_models(const config& cfg, std::string_view only_namespace) {
  if (!only_namespace.empty()) {
    // One namespace: one scan of the lists, not a walk over every namespace (no role, no policy).
    return namespace_models(cfg, std::string(only_namespace), roles_of(cfg, only_namespace));
  }
  const namespace_index index(cfg);
  std::vector<policy_model> out;
  for (const auto& ns : index.policy_namespaces()) {
    for (auto& m : namespace_models(cfg, ns, index.roles(ns))) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace mlnetpol::policy::render
