#include "controller/serve.hpp"

#include <optional>

#include "common/obs/logging.hpp"
#include "controller/leader_election.hpp"

namespace mlnetpol::controller {

std::unique_ptr<manager> start_reconciler(const serve_flags& flags,
                                          std::optional<k8s::rest_config> rest,
                                          policy::config initial) {
  auto m = make_reconciler(flags, std::move(rest));
  if (!m) return nullptr;
  m->update_config(std::move(initial));
  m->start();
  return m;
}

std::unique_ptr<manager> make_reconciler(const serve_flags& flags,
                                         std::optional<k8s::rest_config> cluster_access) {
  namespace logging = obs::logging;
  if (!flags.reconcile) {
    logging::event(spdlog::level::info,
                   "reconciler off (--reconcile=false): admission only, no policies are kept in "
                   "the cluster",
                   {});
    return nullptr;
  }
  if (!cluster_access) {
    logging::event(spdlog::level::info,
                   "no cluster access (no --kubeconfig, not in a pod): admission only, no "
                   "policies are kept in the cluster",
                   {});
    return nullptr;
  }
  k8s::rest_config rest = std::move(*cluster_access);
  manager_options options;
  options.resync_period = flags.resync_period;
  options.policy_reports = true;
  options.election.identity = default_identity();
  options.election.lease_namespace = default_lease_namespace();
  options.election.lease_duration = flags.lease_duration;
  options.election.renew_deadline = flags.renew_deadline;
  options.election.retry_period = flags.retry_period;
  options.guard = flags.prune_guard;
  // Events get a client of their own: its connections and its cancel at stop are not the
  // reconciler's, and a slow event write never holds a reconcile up.
  std::optional<k8s::rest_config> events_rest;
  if (flags.events) events_rest = rest;
  k8s::client_options client_options;
  client_options.request_timeout = request_deadline(flags);
  auto client = std::make_unique<k8s::client>(std::move(rest), client_options);
  k8s::client* raw = client.get();
  auto m = std::make_unique<manager>(make_client_cluster(std::move(client)), policy::config{},
                                     std::move(options));
  raw->set_observer(m->request_observer());
  if (events_rest) {
    k8s::client_options events_options;
    events_options.request_timeout = std::chrono::seconds(10);
    auto events_client = std::make_unique<k8s::client>(std::move(*events_rest), events_options);
    events_client->set_observer(m->request_observer());
    m->set_event_recorder(
        std::make_unique<event_recorder>(make_client_event_sink(std::move(events_client))));
  } else {
    logging::event(spdlog::level::info, "Kubernetes Events off (--events=false)", {});
  }
  return m;
}

}  // namespace mlnetpol::controller
