#include "controller/serve.hpp"

#include <algorithm>
#include <optional>

#include "common/obs/logging.hpp"
#include "controller/leader_election.hpp"

namespace mlnetpol::controller {

std::chrono::milliseconds request_deadline(const leader_election_options& election) {
  const auto limit =
      std::min(election.renew_deadline / 2, election.lease_duration - election.renew_deadline);
  return std::clamp(limit, std::chrono::milliseconds(1), std::chrono::milliseconds(30'000));
}

std::unique_ptr<manager> make_reconciler(reconciler_options options, k8s::rest_config rest) {
  namespace logging = obs::logging;
  manager_options& m_options = options.manager;
  m_options.policy_reports = true;
  m_options.election.identity = default_identity();
  m_options.election.lease_namespace = default_lease_namespace();
  // Events get a client of their own: its connections and its cancel at stop are not the
  // reconciler's, and a slow event write never holds a reconcile up.
  std::optional<k8s::rest_config> events_rest;
  if (options.events) events_rest = rest;
  k8s::client_options client_options;
  client_options.request_timeout = request_deadline(m_options.election);
  auto client = std::make_unique<k8s::client>(std::move(rest), client_options);
  k8s::client* raw = client.get();
  auto m = std::make_unique<manager>(make_client_cluster(std::move(client)), policy::config{},
                                     std::move(m_options));
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
