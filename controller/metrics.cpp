#include "controller/metrics.hpp"

#include <cstdio>

namespace mlnetpol::controller {
namespace {

// Label values here are our own words (verbs, codes, kinds, results), never request input; the
// escape keeps the output valid whatever they become.
void append_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

void controller_metrics::count_reconcile(std::string_view result, double seconds) {
  std::lock_guard lock(mutex_);
  auto it = reconcile_.find(result);
  if (it == reconcile_.end()) it = reconcile_.emplace(std::string(result), 0).first;
  ++it->second;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (seconds <= bounds[i]) {
      ++buckets_[i];
      break;
    }
  }
  ++duration_count_;
  duration_sum_ += seconds;
}

void controller_metrics::count_request(std::string_view verb, std::string_view code) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(verb), std::string(code)}];
}

void controller_metrics::set_managed(std::map<std::string, std::size_t> by_kind) {
  std::lock_guard lock(mutex_);
  managed_ = std::move(by_kind);
}

std::uint64_t controller_metrics::reconciles(std::string_view result) const {
  std::lock_guard lock(mutex_);
  const auto it = reconcile_.find(result);
  return it == reconcile_.end() ? 0 : it->second;
}

std::uint64_t controller_metrics::requests(std::string_view verb, std::string_view code) const {
  std::lock_guard lock(mutex_);
  const auto it = requests_.find(std::make_pair(std::string(verb), std::string(code)));
  return it == requests_.end() ? 0 : it->second;
}

std::uint64_t controller_metrics::writes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [key, count] : requests_) {
    const auto& verb = key.first;
    if (verb == "apply" || verb == "patch" || verb == "delete" || verb == "create" ||
        verb == "update")
      n += count;
  }
  return n;
}

std::string controller_metrics::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  out += "# HELP mlnetpol_reconcile_total Namespace reconciles by result.\n";
  out += "# TYPE mlnetpol_reconcile_total counter\n";
  for (const auto& [result, n] : reconcile_) {
    out += "mlnetpol_reconcile_total{result=\"";
    append_value(out, result);
    out += "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP mlnetpol_reconcile_duration_seconds Time one namespace reconcile took.\n";
  out += "# TYPE mlnetpol_reconcile_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i];
    out += "mlnetpol_reconcile_duration_seconds_bucket{le=\"" + number(bounds[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += "mlnetpol_reconcile_duration_seconds_bucket{le=\"+Inf\"} " +
         std::to_string(duration_count_) + "\n";
  out += "mlnetpol_reconcile_duration_seconds_sum " + number(duration_sum_) + "\n";
  out += "mlnetpol_reconcile_duration_seconds_count " + std::to_string(duration_count_) + "\n";
  out += "# HELP mlnetpol_managed_policies Managed policies in the cluster, by kind.\n";
  out += "# TYPE mlnetpol_managed_policies gauge\n";
  for (std::string_view kind : {"NetworkPolicy", "CiliumNetworkPolicy"}) {
    const auto it = managed_.find(std::string(kind));
    out += "mlnetpol_managed_policies{kind=\"" + std::string(kind) + "\"} " +
           std::to_string(it == managed_.end() ? 0 : it->second) + "\n";
  }
  out += "# HELP mlnetpol_apiserver_requests_total Kubernetes API requests by verb and code.\n";
  out += "# TYPE mlnetpol_apiserver_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "mlnetpol_apiserver_requests_total{verb=\"";
    append_value(out, key.first);
    out += "\",code=\"";
    append_value(out, key.second);
    out += "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP mlnetpol_leader 1 while this replica holds the reconciler lease.\n";
  out += "# TYPE mlnetpol_leader gauge\n";
  out += "mlnetpol_leader " + std::to_string(leader_.load()) + "\n";
  out += "# HELP mlnetpol_cilium_crd_missing 1 while CiliumNetworkPolicy is not served.\n";
  out += "# TYPE mlnetpol_cilium_crd_missing gauge\n";
  out += "mlnetpol_cilium_crd_missing " + std::to_string(crd_missing_.load()) + "\n";
  out += "# HELP mlnetpol_renderer_errors_total Objects the API server rejected as invalid.\n";
  out += "# TYPE mlnetpol_renderer_errors_total counter\n";
  out += "mlnetpol_renderer_errors_total " + std::to_string(renderer_errors_.load()) + "\n";
  out += "# HELP mlnetpol_audit_would_apply_policies Policies audit mode would apply.\n";
  out += "# TYPE mlnetpol_audit_would_apply_policies gauge\n";
  out += "mlnetpol_audit_would_apply_policies " + std::to_string(audit_would_apply_.load()) + "\n";
  return out;
}

}  // namespace mlnetpol::controller
