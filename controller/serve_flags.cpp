#include "controller/serve.hpp"

namespace mlnetpol::controller {

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
      .duration("--leader-elect-retry-period", flags.retry_period, /*positive=*/true);
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
         "  --leader-elect-retry-period D      (default 2s)\n";
}

}  // namespace mlnetpol::controller
