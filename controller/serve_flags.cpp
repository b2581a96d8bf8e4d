#include "controller/serve.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace mlnetpol::controller {
namespace {

// A whole number from 0 to max, for flag `name`.
flags::parser::value_fn whole_number(std::string name, std::uint64_t max,
                                     std::function<void(std::uint64_t)> set) {
  return [name = std::move(name), max, set = std::move(set)](std::string_view v) -> std::string {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n > max)
      return name + ": not a whole number from 0 to " + std::to_string(max) + ": '" +
             std::string(v) + "'";
    set(n);
    return {};
  };
}

}  // namespace

std::chrono::milliseconds request_deadline(const serve_flags& flags) {
  const auto limit =
      std::min(flags.renew_deadline / 2, flags.lease_duration - flags.renew_deadline);
  return std::clamp(limit, std::chrono::milliseconds(1), std::chrono::milliseconds(30'000));
}

void declare(flags::parser& p, serve_flags& flags) {
  p.value("--kubeconfig",
          [&flags](std::string_view v) -> std::string {
            if (v.empty()) return "--kubeconfig: missing value";
            flags.kubeconfig = v;
            return {};
          })
      .boolean("--reconcile", flags.reconcile)  // a bare --reconcile means true, like Go's
      .boolean("--events", flags.events)
      .duration("--resync-period", flags.resync_period, /*positive=*/true)
      .duration("--leader-elect-lease-duration", flags.lease_duration, /*positive=*/true)
      .duration("--leader-elect-renew-deadline", flags.renew_deadline, /*positive=*/true)
      .duration("--leader-elect-retry-period", flags.retry_period, /*positive=*/true)
      .value("--prune-guard-percent", whole_number("--prune-guard-percent", 100,
                                                   [&flags](std::uint64_t n) {
                                                     flags.prune_guard.max_percent =
                                                         static_cast<unsigned>(n);
                                                   }))
      .value("--prune-guard-namespaces",
             whole_number("--prune-guard-namespaces", 1'000'000'000, [&flags](std::uint64_t n) {
               flags.prune_guard.max_namespaces = static_cast<std::size_t>(n);
             }));
}

result<void> check(const serve_flags& flags) {
  // client-go's rules: the lease outlives the renew deadline, which outlives a retry (with jitter).
  if (flags.lease_duration <= flags.renew_deadline)
    return fail("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline");
  if (flags.renew_deadline.count() <= flags.retry_period.count() * 12 / 10)
    return fail(
        "--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period");
  return {};
}

std::string serve_flags_usage() {
  return "reconciler flags:\n"
         "  --kubeconfig FILE                  cluster access outside a pod (in a pod: the "
         "service\n"
         "                                     account); without either, serve is admission-only\n"
         "  --reconcile=true|false             keep labels and policies in the cluster (default "
         "true)\n"
         "  --events=true|false                Kubernetes Events on denials and on policy "
         "sets\n"
         "                                     applied or failing, rate-limited (default true)\n"
         "  --resync-period D                  full pass over every secured namespace (default "
         "10m)\n"
         "  --leader-elect-lease-duration D    (default 15s)\n"
         "  --leader-elect-renew-deadline D    (default 10s)\n"
         "  --leader-elect-retry-period D      (default 2s)\n"
         "  --prune-guard-percent P            hold a configuration change that would remove the\n"
         "                                     policies of more than P % of the namespaces "
         "holding\n"
         "                                     them (default 10) ...\n"
         "  --prune-guard-namespaces N         ... or of more than N namespaces (default 50), "
         "until\n"
         "                                     confirmed (docs/operations.md)\n";
}

}  // namespace mlnetpol::controller
