// The client against the real kube-apiserver v1.28.7 (kapi): apply, list, watch and delete a
// NetworkPolicy, label a namespace, and hold a Lease. Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <cstdio>
#include <thread>

#include "k8s/client.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;

namespace {

const std::string policy_body = R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
"metadata":{"name":"default-deny-ingress","namespace":"smoke","labels":{"app.kubernetes.io/managed-by":"mlnetpol"}},
"spec":{"podSelector":{},"policyTypes":["Ingress"]}})";

const std::string policy_body_changed =
    R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
"metadata":{"name":"default-deny-ingress","namespace":"smoke","labels":{"app.kubernetes.io/managed-by":"mlnetpol"}},
"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"]}})";

const std::string selector = "app.kubernetes.io/managed-by=mlnetpol";

}  // namespace

TEST_CASE("real kube-apiserver: apply, list, watch, delete a NetworkPolicy; leases; errors") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("k8s smoke test skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  mlnetpol::testing::kapi_server kapi(*script);
  auto config = k8s::load_kubeconfig(kapi.kubeconfig());
  REQUIRE_MESSAGE(config.has_value(), config.error().message);
  k8s::client client(*config);

  // A namespace, labelled with a merge patch; a missing one answers not_found.
  auto ns = client.create(k8s::namespaces, "",
                          R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"smoke"}})");
  REQUIRE_MESSAGE(ns.has_value(), ns.error().message);
  auto labelled = client.merge_patch(k8s::namespaces, "", "smoke",
                                     R"({"metadata":{"labels":{"mlnetpol.io/secured":"true"}}})");
  REQUIRE(labelled.has_value());
  CHECK(labelled->labels.at("mlnetpol.io/secured") == "true");
  auto missing = client.merge_patch(k8s::namespaces, "", "no-such-ns", R"({"metadata":{}})");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == k8s::failure_kind::not_found);

  // Server-side apply: created, then unchanged on re-apply.
  auto created = client.apply(k8s::network_policies, "smoke", "default-deny-ingress", policy_body);
  REQUIRE_MESSAGE(created.has_value(), created.error().message);
  auto again = client.apply(k8s::network_policies, "smoke", "default-deny-ingress", policy_body);
  REQUIRE(again.has_value());
  CHECK(again->resource_version == created->resource_version);
  auto no_ns = client.apply(
      k8s::network_policies, "no-such-ns", "default-deny-ingress",
      R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"default-deny-ingress"},"spec":{"podSelector":{}}})");
  REQUIRE_FALSE(no_ns.has_value());
  CHECK(no_ns.error().kind == k8s::failure_kind::not_found);
  auto no_crd = client.apply(
      k8s::cilium_network_policies, "smoke", "x",
      R"({"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"x"}})");
  REQUIRE_FALSE(no_crd.has_value());
  CHECK(no_crd.error().kind == k8s::failure_kind::crd_missing);

  auto page = client.list(k8s::network_policies, "", selector, 0, "");
  REQUIRE(page.has_value());
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0].namespace_name == "smoke");
  auto namespaces = client.list_all(k8s::namespaces, "", "", 1);  // one page per namespace
  REQUIRE(namespaces.has_value());
  CHECK(namespaces->items.size() >= 5);

  // Watch from the list's resourceVersion while the policy is changed and deleted.
  std::vector<k8s::watch_event> events;
  std::optional<k8s::api_result<void>> watched;
  std::thread watcher([&] {
    watched = client.watch(k8s::network_policies, "", selector, page->resource_version, 20s,
                           [&](const k8s::watch_event& e) {
                             events.push_back(e);
                             return e.event_type != k8s::watch_event::type::deleted;
                           });
  });
  std::this_thread::sleep_for(300ms);
  auto changed =
      client.apply(k8s::network_policies, "smoke", "default-deny-ingress", policy_body_changed);
  REQUIRE(changed.has_value());
  CHECK(changed->resource_version != created->resource_version);
  auto removed = client.remove(k8s::network_policies, "smoke", "default-deny-ingress");
  CHECK(removed.has_value());
  watcher.join();
  REQUIRE(watched.has_value());
  CHECK_MESSAGE(watched->has_value(), (watched->has_value() ? "" : watched->error().message));
  REQUIRE(events.size() >= 2);
  CHECK(events.front().event_type == k8s::watch_event::type::modified);
  CHECK(events.back().event_type == k8s::watch_event::type::deleted);
  auto gone = client.remove(k8s::network_policies, "smoke", "default-deny-ingress");
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().kind == k8s::failure_kind::not_found);

  // A Lease: create, renew, a stale takeover loses, a racing create loses.
  REQUIRE(
      client
          .create(k8s::namespaces, "",
                  R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"mlnetpol-system"}})")
          .has_value());
  auto none = client.get_lease("mlnetpol-system", "mlnetpol-reconciler");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().kind == k8s::failure_kind::not_found);
  k8s::lease_record lease;
  lease.namespace_name = "mlnetpol-system";
  lease.name = "mlnetpol-reconciler";
  lease.holder_identity = "smoke-a";
  lease.acquire_time = lease.renew_time = k8s::format_micro_time(std::chrono::system_clock::now());
  auto held = client.create_lease(lease);
  REQUIRE_MESSAGE(held.has_value(), held.error().message);
  CHECK(held->holder_identity == "smoke-a");
  CHECK(held->renew_time == lease.renew_time);
  auto raced = client.create_lease(lease);
  REQUIRE_FALSE(raced.has_value());
  CHECK(raced.error().kind == k8s::failure_kind::already_exists);
  auto renew = *held;
  renew.renew_time = k8s::format_micro_time(std::chrono::system_clock::now());
  auto renewed = client.update_lease(renew);
  REQUIRE_MESSAGE(renewed.has_value(), renewed.error().message);
  CHECK(renewed->resource_version != held->resource_version);
  auto takeover = *held;  // the old resourceVersion
  takeover.holder_identity = "smoke-b";
  auto lost = client.update_lease(takeover);
  REQUIRE_FALSE(lost.has_value());
  CHECK(lost.error().kind == k8s::failure_kind::conflict);
  auto read = client.get_lease("mlnetpol-system", "mlnetpol-reconciler");
  REQUIRE(read.has_value());
  CHECK(read->holder_identity == "smoke-a");

  // The API server restarts (etcd keeps the data): the pooled connection is dead, calls fail as
  // transport errors meanwhile and work again afterwards.
  kapi.stop_apiserver();
  auto down = client.get_lease("mlnetpol-system", "mlnetpol-reconciler");
  REQUIRE_FALSE(down.has_value());
  CHECK(down.error().kind == k8s::failure_kind::transport);
  CHECK(down.error().retryable());
  kapi.start_apiserver();
  auto up = client.get_lease("mlnetpol-system", "mlnetpol-reconciler");
  REQUIRE_MESSAGE(up.has_value(), up.error().message);
  CHECK(up->resource_version == renewed->resource_version);

  // A bearer token of a service account without RBAC: authenticated, then forbidden.
  REQUIRE(kapi.kubectl("-n mlnetpol-system create sa smoke >/dev/null").status == 0);
  const auto token = kapi.kubectl("-n mlnetpol-system create token smoke");
  REQUIRE(token.status == 0);
  auto sa_config = *config;
  sa_config.client_cert_pem.clear();
  sa_config.client_key_pem.clear();
  sa_config.bearer_token = token.out.substr(0, token.out.find_last_not_of("\n") + 1);
  k8s::client as_sa(sa_config);
  auto forbidden = as_sa.list(k8s::namespaces, "", "", 0, "");
  REQUIRE_FALSE(forbidden.has_value());
  CHECK(forbidden.error().kind == k8s::failure_kind::forbidden);
  CHECK(forbidden.error().message.find("system:serviceaccount:mlnetpol-system:smoke") !=
        std::string::npos);
  sa_config.bearer_token = "not-a-valid-token";
  k8s::client bad_token(sa_config);
  auto unauthorized = bad_token.list(k8s::namespaces, "", "", 0, "");
  REQUIRE_FALSE(unauthorized.has_value());
  CHECK(unauthorized.error().kind == k8s::failure_kind::unauthorized);
}
