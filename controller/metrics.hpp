#pragma once
// The controller's Prometheus series, rendered in the text format (0.0.4). Self-contained (a map
// under a mutex per family; the controller's rates are far below the admission path's) so it can
// move onto common/obs metric primitives as is.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace mlnetpol::controller {

class controller_metrics {
 public:
  void count_reconcile(std::string_view result, double seconds);
  void count_request(std::string_view verb, std::string_view code);
  void set_managed(std::map<std::string, std::size_t> by_kind);
  void set_leader(bool leader) { leader_.store(leader ? 1 : 0); }
  void set_crd_missing(bool missing) { crd_missing_.store(missing ? 1 : 0); }
  void count_renderer_error() { renderer_errors_.fetch_add(1); }
  void set_audit_would_apply(std::size_t n) { audit_would_apply_.store(n); }

  std::uint64_t reconciles(std::string_view result) const;
  std::uint64_t requests(std::string_view verb, std::string_view code) const;
  std::uint64_t writes() const;  // apply/patch/delete/create/update requests, any code
  bool leader() const { return leader_.load() != 0; }

  std::string render() const;

  static constexpr std::array<double, 12> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,   0.25,   0.5,   1,    2.5,   10};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> reconcile_;
  std::map<std::pair<std::string, std::string>, std::uint64_t, std::less<>> requests_;
  std::map<std::string, std::size_t> managed_;
  std::array<std::uint64_t, bounds.size()> buckets_{};  // non-cumulative
  std::uint64_t duration_count_ = 0;
  double duration_sum_ = 0;
  std::atomic<int> leader_{0};
  std::atomic<int> crd_missing_{0};
  std::atomic<std::uint64_t> renderer_errors_{0};
  std::atomic<std::size_t> audit_would_apply_{0};
};

}  // namespace mlnetpol::controller
