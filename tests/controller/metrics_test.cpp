#include "controller/metrics.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using mlnetpol::controller::controller_metrics;

namespace {

// Every line a comment or `name[{labels}] value`, and each family's HELP and TYPE before its
// samples: what a Prometheus scrape of the text format needs.
bool well_formed(std::string_view text) {
  std::string family;
  while (!text.empty()) {
    const auto end = text.find('\n');
    if (end == std::string_view::npos) return false;  // every line ends in a newline
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    if (line.starts_with("# HELP ")) {
      family = std::string(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      if (!line.substr(7).starts_with(family + ' ')) return false;
      continue;
    }
    if (family.empty() || !line.starts_with(family)) return false;
    const auto space = line.rfind(' ');
    if (space == std::string_view::npos || space + 1 == line.size()) return false;
    const std::string_view series = line.substr(0, space);
    if (series.find('{') != std::string_view::npos && !series.ends_with("}")) return false;
  }
  return true;
}

std::string rendered(const controller_metrics& m) {
  std::string out;
  m.render(out);
  return out;
}

}  // namespace

TEST_CASE("controller metrics start at zero, every family present") {
  controller_metrics m;
  const std::string out = rendered(m);
  CHECK(well_formed(out));
  CHECK(out.find("# TYPE mlnetpol_reconcile_total counter\n") != std::string::npos);
  CHECK(out.find("mlnetpol_reconcile_duration_seconds_bucket{le=\"10\"} 0\n") != std::string::npos);
  CHECK(out.find("mlnetpol_reconcile_duration_seconds_count 0\n") != std::string::npos);
  CHECK(out.find("mlnetpol_managed_policies{kind=\"NetworkPolicy\"} 0\n") != std::string::npos);
  CHECK(out.find("mlnetpol_managed_policies{kind=\"CiliumNetworkPolicy\"} 0\n") !=
        std::string::npos);
  CHECK(out.find("mlnetpol_leader 0\n") != std::string::npos);
  CHECK(out.find("mlnetpol_cilium_crd_missing 0\n") != std::string::npos);
  CHECK(out.find("mlnetpol_renderer_errors_total 0\n") != std::string::npos);
  CHECK(out.find("mlnetpol_audit_would_apply_policies 0\n") != std::string::npos);
}

TEST_CASE("controller metrics count reconciles, API requests and state") {
  controller_metrics m;
  m.count_reconcile("ok", 0.003);
  m.count_reconcile("ok", 12);  // beyond the last bound: only in +Inf
  m.count_reconcile("error", 0.2);
  m.count_request("apply", "201");
  m.count_request("apply", "201");
  m.count_request("list", "200");
  m.set_managed({{"NetworkPolicy", 7}, {"CiliumNetworkPolicy", 2}, {"Other", 9}});
  m.set_leader(true);
  m.set_crd_missing(true);
  m.count_renderer_error();
  m.set_audit_would_apply(5);
  const std::string out = rendered(m);
  CHECK(well_formed(out));
  // Series sorted by label values, as the admission families are.
  CHECK(out.find("mlnetpol_reconcile_total{result=\"error\"} 1\n"
                 "mlnetpol_reconcile_total{result=\"ok\"} 2\n") != std::string::npos);
  CHECK(out.find("mlnetpol_reconcile_duration_seconds_bucket{le=\"0.0025\"} 0\n"
                 "mlnetpol_reconcile_duration_seconds_bucket{le=\"0.005\"} 1\n") !=
        std::string::npos);
  CHECK(out.find("mlnetpol_reconcile_duration_seconds_bucket{le=\"10\"} 2\n"
                 "mlnetpol_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3\n") !=
        std::string::npos);
  CHECK(out.find("mlnetpol_reconcile_duration_seconds_sum 12.203\n") != std::string::npos);
  CHECK(out.find("mlnetpol_apiserver_requests_total{verb=\"apply\",code=\"201\"} 2\n"
                 "mlnetpol_apiserver_requests_total{verb=\"list\",code=\"200\"} 1\n") !=
        std::string::npos);
  CHECK(out.find("mlnetpol_managed_policies{kind=\"NetworkPolicy\"} 7\n"
                 "mlnetpol_managed_policies{kind=\"CiliumNetworkPolicy\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("Other") == std::string::npos);  // not a kind mlnetpol writes
  CHECK(out.find("mlnetpol_leader 1\n") != std::string::npos);
  CHECK(out.find("mlnetpol_cilium_crd_missing 1\n") != std::string::npos);
  CHECK(out.find("mlnetpol_renderer_errors_total 1\n") != std::string::npos);
  CHECK(out.find("mlnetpol_audit_would_apply_policies 5\n") != std::string::npos);

  m.set_managed({});  // all gone: the gauges go back to 0, the series stay
  CHECK(rendered(m).find("mlnetpol_managed_policies{kind=\"NetworkPolicy\"} 0\n") !=
        std::string::npos);
}
