#pragma once
// The controller's Prometheus series, on the common/obs primitives the admission server's use;
// rendered in the text format (0.0.4) after the server's families.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/obs/metrics.hpp"

namespace mlnetpol::controller {

class controller_metrics {
 public:
  void count_reconcile(std::string_view result, double seconds);
  void count_request(std::string_view verb, std::string_view code);
  // Managed policies by kind; kinds other than the two mlnetpol writes are not exported.
  void set_managed(const std::map<std::string, std::size_t>& by_kind);
  void set_leader(bool leader) { leader_.set(leader ? 1 : 0); }
  void set_crd_missing(bool missing) { crd_missing_.set(missing ? 1 : 0); }
  void count_renderer_error() { renderer_errors_.add(); }
  void set_audit_would_apply(std::size_t n) { audit_would_apply_.set(n); }
  void count_config_hold() { config_holds_.add(); }
  void set_config_held(bool held) { config_held_.set(held ? 1 : 0); }
  // The scheduling gate: pods held now, held longer than the threshold, each release and how long
  // the pod was held (from when this replica first saw it gated).
  void set_gated(std::size_t now, std::size_t over_threshold) {
    gated_.set(now);
    gated_over_threshold_.set(over_threshold);
  }
  void count_gate_release(double held_seconds) {
    gates_released_.add();
    gate_held_.observe(held_seconds);
  }

  void render(std::string& out) const;

  // A reconcile lists and writes through the API server: 1 ms to 10 s.
  static constexpr std::array<double, 12> reconcile_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,   0.25,   0.5,   1,    2.5,   10};
  // A gate is held for one reconcile (tens of ms) up to a set that cannot be stored (minutes).
  static constexpr std::array<double, 12> gate_held_bounds{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                           1,    2.5,   5,    10,  60,   300};
  static constexpr std::array<std::string_view, 2> managed_kinds{"NetworkPolicy",
                                                                 "CiliumNetworkPolicy"};

 private:
  obs::labeled_counter reconciles_{"result"};
  obs::histogram reconcile_duration_{reconcile_bounds};
  obs::labeled_counter requests_{"verb", "code"};
  std::array<obs::gauge<std::uint64_t>, managed_kinds.size()> managed_;
  obs::gauge<std::uint64_t> leader_;
  obs::gauge<std::uint64_t> crd_missing_;
  obs::counter renderer_errors_;
  obs::gauge<std::uint64_t> audit_would_apply_;
  obs::counter config_holds_;
  obs::gauge<std::uint64_t> config_held_;
  obs::gauge<std::uint64_t> gated_;
  obs::gauge<std::uint64_t> gated_over_threshold_;
  obs::counter gates_released_;
  obs::histogram gate_held_{gate_held_bounds};
};

}  // namespace mlnetpol::controller
