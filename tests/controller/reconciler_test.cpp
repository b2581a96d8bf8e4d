#include "controller/reconciler.hpp"

#include <algorithm>

#include <doctest/doctest.h>

#include "tests/controller/fake_cluster.hpp"
#include "tests/support/rendered_spec.hpp"

using namespace mlnetpol;
using mlnetpol::testing::rendered_spec;
using namespace mlnetpol::controller;
using mlnetpol::controller::testing::fake_cluster;
using mlnetpol::controller::testing::make_error;

namespace {

struct fixture {
  fake_cluster api;
  namespace_cache cache;
  reconciler r{api, cache};
  policy::config cfg;

  // The cache as the informer would hold it after a list.
  void sync_cache() {
    auto page = api.list_all(k8s::namespaces, "", "");
    std::vector<std::pair<std::string, label_map>> entries;
    std::vector<std::pair<std::string, std::string>> sets;
    for (auto& m : page->items) {
      entries.emplace_back(m.name, m.labels);
      const auto set = m.annotations.find("mlnetpol.io/policy-set");
      if (set != m.annotations.end()) sets.emplace_back(m.name, set->second);
    }
    cache.replace(std::move(entries), std::move(sets));
    api.clear_calls();
  }
  std::size_t count(const std::string& prefix) {
    const auto calls = api.calls();
    return std::count_if(calls.begin(), calls.end(),
                         [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
  }
};

// What our own apply of d leaves: its hash, its spec, our apply the only manager.
observed_object as_applied(const policy::rendered_object& d) {
  observed_object o;
  o.kind = d.kind;
  o.name = d.name;
  o.spec_hash = d.spec_hash;
  o.resource_version = "1";
  o.spec = rendered_spec(d);
  return o;
}

const policy::rendered_object& rendered(const std::vector<policy::rendered_object>& all,
                                        const std::string& name) {
  return *std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("namespace_label_changes: the engine's labels for secured, role and single-role") {
  policy::config cfg;
  auto c = namespace_label_changes(cfg, "training", {});
  CHECK(c.set.at(std::string("mlnetpol.io/secured")) == "true");
  CHECK(c.set.at(std::string("mlnetpol.io/training")) == "true");
  CHECK(c.set.at(cfg.label_key) == "training");
  CHECK_FALSE(c.set.contains(std::string("mlnetpol.io/inference")));
  CHECK(c.remove.empty());

  // mlops is both: no workload-type.
  c = namespace_label_changes(cfg, "mlops", {});
  CHECK_FALSE(c.set.contains(cfg.label_key));
  CHECK(c.set.contains(std::string("mlnetpol.io/inference")));

  // A workload-type someone set stays; labels already right are no change.
  c = namespace_label_changes(cfg, "training",
                              {{"mlnetpol.io/secured", "true"},
                               {"mlnetpol.io/training", "true"},
                               {"workload-type", "inference"}});
  CHECK(c.empty());

  // Unsecured: nothing to do.
  CHECK(namespace_label_changes(cfg, "default", {{"team", "a"}}).empty());

  // Left the lists: the mlnetpol.io labels go, others stay.
  c = namespace_label_changes(
      cfg, "old",
      {{"mlnetpol.io/secured", "true"}, {"mlnetpol.io/platform", "true"}, {"team", "a"}});
  CHECK(c.set.empty());
  CHECK(sorted(c.remove) ==
        std::vector<std::string>{"mlnetpol.io/platform", "mlnetpol.io/secured"});
  CHECK(c.merge_patch() ==
        R"({"metadata":{"labels":{"mlnetpol.io/secured":null,"mlnetpol.io/platform":null}}})");
}

TEST_CASE("plan_objects: unchanged when exact, replace what differs, apply what is missing") {
  policy::config cfg;
  const auto desired = policy::render_policies(cfg, "argocd");
  REQUIRE(desired.size() >= 3);
  std::vector<observed_object> observed;
  for (const auto& d : desired) observed.push_back(as_applied(d));
  observed[0].spec_hash = "edited";
  observed.erase(observed.begin() + 1);  // missing
  observed.push_back({"CiliumNetworkPolicy", "default-deny-with-dns", "x"});
  const auto plan = plan_objects(desired, observed);
  REQUIRE(plan.replace.size() == 1);
  CHECK(plan.replace[0].desired->name == desired[0].name);
  CHECK(plan.replace[0].live.spec_hash == "edited");
  REQUIRE(plan.apply.size() == 1);
  CHECK(plan.apply[0]->name == desired[1].name);
  CHECK(plan.unchanged == desired.size() - 2);
  REQUIRE(plan.prune.size() == 1);
  CHECK(plan.prune[0].name == "default-deny-with-dns");
}

TEST_CASE("is_rendered: the spec decides, not the spec-hash, the labels or who claims to be us") {
  policy::config cfg;
  const auto desired = policy::render_policies(cfg, "argocd");
  const auto& egress = rendered(desired, "default-deny-egress");
  const auto& dns = rendered(desired, "allow-dns");
  CHECK(is_rendered(egress, as_applied(egress)));

  // As the API server returns them: keys reordered, an empty list and an empty object kept.
  observed_object o = as_applied(egress);
  o.spec = R"({"policyTypes":["Egress"],"ingress":[],"podSelector":{"matchLabels":{}}})";
  CHECK(is_rendered(egress, o));

  // A forged spec-hash that matches, on an allow-all: not ours, and tampered.
  o.spec = R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})";
  CHECK_FALSE(is_rendered(egress, o));
  CHECK(tampered(egress, o));
  // A narrowed selector (the deny then selects no pod).
  o.spec = R"({"podSelector":{"matchLabels":{"none":"x"}},"policyTypes":["Egress"]})";
  CHECK_FALSE(is_rendered(egress, o));
  // policyTypes changed.
  o.spec = R"({"podSelector":{},"policyTypes":["Ingress"]})";
  CHECK_FALSE(is_rendered(egress, o));

  // Right spec, but another manager owns fields of it (a later re-render could leave them).
  o = as_applied(egress);
  o.foreign = {"kubectl-edit (Update)"};
  CHECK_FALSE(is_rendered(egress, o));
  CHECK(tampered(egress, o));
  // A top-level field never rendered (a Cilium `specs` list of further rules).
  o = as_applied(egress);
  o.extra_fields = true;
  CHECK_FALSE(is_rendered(egress, o));
  // Rewritten since our last write.
  o = as_applied(egress);
  o.edited = true;
  CHECK_FALSE(is_rendered(egress, o));

  // An older rendering (another hash, our writes only): replaced, but nobody tampered with it.
  o = as_applied(egress);
  o.spec_hash = "0000000000000000";
  o.spec = rendered_spec(dns);
  CHECK_FALSE(is_rendered(egress, o));
  CHECK_FALSE(tampered(egress, o));

  // observe(): our apply is ours; anyone else's entry is foreign, whatever name it uses.
  k8s::object_meta meta;
  meta.name = "default-deny-egress";
  meta.resource_version = "7";
  meta.annotations[std::string(policy::spec_hash_annotation)] = egress.spec_hash;
  meta.spec = rendered_spec(egress);
  meta.spec_managers = {{"mlnetpol", "Apply"}};
  CHECK(is_rendered(egress, observe(meta, "NetworkPolicy", "")));
  CHECK(is_rendered(egress, observe(meta, "NetworkPolicy", "7")));
  CHECK_FALSE(is_rendered(egress, observe(meta, "NetworkPolicy", "6")));
  meta.spec_managers.push_back({"kubectl-edit", "Update"});
  CHECK(observe(meta, "NetworkPolicy", "").foreign ==
        std::vector<std::string>{"kubectl-edit (Update)"});
  CHECK_FALSE(is_rendered(egress, observe(meta, "NetworkPolicy", "")));
  // A tenant writing under our name is not foreign by name: only the spec can tell.
  meta.spec_managers = {{"mlnetpol", "Apply"}, {"mlnetpol", "Update"}};
  CHECK(observe(meta, "NetworkPolicy", "").writers ==
        std::vector<std::string>{"mlnetpol (Apply)", "mlnetpol (Update)"});
  CHECK(observe(meta, "NetworkPolicy", "").foreign.empty());
  CHECK(is_rendered(egress, observe(meta, "NetworkPolicy", "")));
  meta.spec = R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})";
  CHECK_FALSE(is_rendered(egress, observe(meta, "NetworkPolicy", "")));
}

TEST_CASE("reconcile: a new secured namespace gets its labels and its full set; again is free") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.labels_patched);
  CHECK(f.api.labels("argocd").at("mlnetpol.io/secured") == "true");
  CHECK(f.api.labels("argocd").at("mlnetpol.io/platform") == "true");
  const auto desired = policy::render_policies(f.cfg, "argocd");
  CHECK(out.applied == desired.size());
  CHECK(f.api.names("NetworkPolicy", "argocd").size() == desired.size());
  CHECK(out.managed.at("NetworkPolicy") == desired.size());

  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.writes() == 0);
  CHECK(out.unchanged == desired.size());
  CHECK(f.api.writes() == 0);
  CHECK(f.count("list") == 2);  // NetworkPolicies and CiliumNetworkPolicies in the namespace
}

TEST_CASE("reconcile: unsecured namespace -> nothing written; missing namespace -> no call") {
  fixture f;
  f.api.add_namespace("default");
  f.sync_cache();
  auto out = f.r.reconcile(f.cfg, "default");
  CHECK(out.status == reconcile_status::ok);
  CHECK(f.api.writes() == 0);
  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd");  // in the config, not in the cluster
  CHECK(out.status == reconcile_status::absent);
  CHECK(f.api.calls().empty());
}

TEST_CASE("reconcile: drift (edited spec, deleted object) is repaired; foreign objects untouched") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  f.api.put_object("NetworkPolicy", "argocd", "default-deny-ingress",
                   {{"app.kubernetes.io/managed-by", "mlnetpol"}}, {});  // hash gone: edited
  f.api.delete_object("NetworkPolicy", "argocd", "allow-dns");
  f.api.put_object("NetworkPolicy", "argocd", "team-own", {}, {});  // not managed
  f.api.clear_calls();
  const auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.applied == 2);
  CHECK(out.pruned == 0);
  CHECK(f.api.find("NetworkPolicy", "argocd", "allow-dns"));
  CHECK(f.api.find("NetworkPolicy", "argocd", "default-deny-ingress")
            ->meta.annotations.contains("mlnetpol.io/spec-hash"));
  CHECK(f.api.find("NetworkPolicy", "argocd", "team-own"));
}

TEST_CASE("reconcile: a spec edited by hand with the spec-hash left in place is replaced") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  const auto before = f.api.find("NetworkPolicy", "argocd", "allow-dns");
  REQUIRE(before);
  // kubectl edit: same labels and annotations (hash included), new resourceVersion.
  f.api.put_object("NetworkPolicy", "argocd", "allow-dns", before->meta.labels,
                   before->meta.annotations);
  f.api.clear_calls();
  auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.applied == 1);
  CHECK(f.api.calls() == std::vector<std::string>{"list NetworkPolicy argocd",
                                                  "list CiliumNetworkPolicy argocd",
                                                  "replace NetworkPolicy argocd/allow-dns"});
  REQUIRE(out.repairs.size() == 1);
  CHECK(out.repairs[0].previous_writers ==
        std::vector<std::string>{"mlnetpol (Apply)", "kubectl-edit (Update)"});
  CHECK(f.api.find("NetworkPolicy", "argocd", "allow-dns")->meta.spec_managers ==
        std::vector<k8s::spec_writer>{{"mlnetpol", "Apply"}});
  out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.writes() == 0);
  // A fresh process knows no versions; what it has written alone has no other spec manager, so
  // start-up writes nothing ...
  reconciler fresh(f.api, f.cache);
  CHECK(fresh.reconcile(f.cfg, "argocd").writes() == 0);
  // ... but an edit made while no replica ran is still seen: managedFields name its manager.
  f.api.put_object("NetworkPolicy", "argocd", "default-deny-ingress",
                   f.api.find("NetworkPolicy", "argocd", "default-deny-ingress")->meta.labels,
                   f.api.find("NetworkPolicy", "argocd", "default-deny-ingress")->meta.annotations,
                   "kubectl-patch");
  reconciler restarted(f.api, f.cache);
  f.api.clear_calls();
  CHECK(restarted.reconcile(f.cfg, "argocd").applied == 1);
  CHECK(f.count("replace NetworkPolicy argocd/default-deny-ingress") == 1);
  CHECK(reconciler(f.api, f.cache).reconcile(f.cfg, "argocd").writes() == 0);
}

TEST_CASE("reconcile: a tenant's allow-all in a deny policy, kept hash and all, does not survive") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  const auto desired = policy::render_policies(f.cfg, "argocd");
  const auto& egress = rendered(desired, "default-deny-egress");
  const auto live = f.api.find("NetworkPolicy", "argocd", "default-deny-egress");
  // `kubectl patch --type=merge -p '{"spec":{"egress":[{}]}}'`: labels and spec-hash stay.
  f.api.put_object("NetworkPolicy", "argocd", "default-deny-egress", live->meta.labels,
                   live->meta.annotations, "kubectl-patch",
                   R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})");
  reconciler restarted(f.api, f.cache);  // no remembered versions: the spec alone must tell
  f.api.clear_calls();
  const auto out = restarted.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(f.count("replace NetworkPolicy argocd/default-deny-egress") == 1);
  CHECK(f.count("delete") == 0);  // never without its deny, not even for a moment
  const auto fixed = f.api.find("NetworkPolicy", "argocd", "default-deny-egress");
  CHECK(fixed->meta.spec == rendered_spec(egress));
  CHECK(fixed->meta.spec_managers == std::vector<k8s::spec_writer>{{"mlnetpol", "Apply"}});
  REQUIRE(out.repairs.size() == 1);
  CHECK_FALSE(out.repairs[0].adopted);
  CHECK(out.repairs[0].previous_writers ==
        std::vector<std::string>{"mlnetpol (Apply)", "kubectl-patch (Update)"});
  CHECK(reconciler(f.api, f.cache).reconcile(f.cfg, "argocd").writes() == 0);
}

TEST_CASE("reconcile: an object mlnetpol did not create is adopted: replaced, managers named") {
  for (const bool forged : {false, true}) {
    CAPTURE(forged);
    fixture f;
    f.cfg.enforcement = policy::enforcement_mode::audit;
    f.api.add_namespace("argocd");
    f.sync_cache();
    f.r.reconcile(f.cfg, "argocd");  // audit: labels only
    const auto desired = policy::render_policies(f.cfg, "argocd");
    const auto& egress = rendered(desired, "default-deny-egress");
    const std::string allow_all = R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})";
    if (forged) {
      // mlnetpol's labels, its spec-hash and `kubectl create --field-manager=mlnetpol`.
      f.api.put_object("NetworkPolicy", "argocd", "default-deny-egress",
                       {{"app.kubernetes.io/managed-by", "mlnetpol"}},
                       {{std::string(policy::spec_hash_annotation), egress.spec_hash}}, "mlnetpol",
                       allow_all);
    } else {
      f.api.put_object("NetworkPolicy", "argocd", "default-deny-egress", {}, {}, "kubectl-create",
                       allow_all);
    }
    f.cfg.enforcement = policy::enforcement_mode::enforce;
    f.api.clear_calls();
    const auto out = f.r.reconcile(f.cfg, "argocd");
    CHECK(out.status == reconcile_status::ok);
    CHECK(f.count("replace NetworkPolicy argocd/default-deny-egress") == 1);
    CHECK(f.count("delete") == 0);
    const auto fixed = f.api.find("NetworkPolicy", "argocd", "default-deny-egress");
    CHECK(fixed->meta.spec == rendered_spec(egress));
    CHECK(fixed->meta.labels.at("app.kubernetes.io/managed-by") == "mlnetpol");
    REQUIRE(out.repairs.size() == 1);
    CHECK(out.repairs[0].name == "default-deny-egress");
    // Unlabelled, it was created by our apply's call: adopted. Labelled, it passed for ours.
    CHECK(out.repairs[0].adopted == !forged);
    CHECK(out.repairs[0].previous_writers ==
          std::vector<std::string>{forged ? "mlnetpol (Update)" : "kubectl-create (Update)"});
    f.api.clear_calls();
    CHECK(f.r.reconcile(f.cfg, "argocd").writes() == 0);
    CHECK(reconciler(f.api, f.cache).reconcile(f.cfg, "argocd").writes() == 0);
  }
}

TEST_CASE("reconcile: standard -> Cilium applies the new set before pruning the old one") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  f.cfg.cilium_mode = true;
  f.api.clear_calls();
  auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  const auto calls = f.api.calls();
  std::size_t last_apply = 0, first_delete = calls.size();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].rfind("apply", 0) == 0) last_apply = i;
    if (calls[i].rfind("delete", 0) == 0) first_delete = std::min(first_delete, i);
  }
  CHECK(out.applied == 2);
  CHECK(out.pruned == 4);
  CHECK(last_apply < first_delete);
  CHECK(f.api.names("NetworkPolicy", "argocd").empty());
  CHECK(f.api.names("CiliumNetworkPolicy", "argocd").size() == 2);
  CHECK(out.managed.at("CiliumNetworkPolicy") == 2);
  CHECK_FALSE(out.managed.contains("NetworkPolicy"));

  // A failed apply of the new set prunes nothing: the namespace keeps its old default deny.
  f.cfg.cilium_mode = false;
  f.api.fail_next("apply NetworkPolicy argocd/default-deny-egress",
                  make_error(k8s::failure_kind::server_error, 503, "unavailable"));
  out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::retry);
  CHECK(f.api.names("CiliumNetworkPolicy", "argocd").size() == 2);
  out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(f.api.names("CiliumNetworkPolicy", "argocd").empty());
}

TEST_CASE("reconcile: Cilium mode without the CRD keeps the standard set and reports crd_missing") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  f.api.set_cilium_installed(false);
  f.cfg.cilium_mode = true;
  const auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::crd_missing);
  CHECK(f.api.names("NetworkPolicy", "argocd").size() == 4);
  // Standard mode works without the CRD.
  f.cfg.cilium_mode = false;
  CHECK(f.r.reconcile(f.cfg, "argocd").status == reconcile_status::ok);
}

TEST_CASE("reconcile: audit labels the namespace, applies and deletes nothing, reports") {
  fixture f;
  f.cfg.enforcement = policy::enforcement_mode::audit;
  f.api.add_namespace("argocd");
  f.api.put_object("NetworkPolicy", "argocd", "stale",
                   {{"app.kubernetes.io/managed-by", "mlnetpol"}}, {});
  f.sync_cache();
  const auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::audited);
  CHECK(f.api.labels("argocd").at("mlnetpol.io/secured") == "true");
  CHECK(out.would_apply == 4);
  CHECK(out.would_prune == 1);
  CHECK(f.api.names("NetworkPolicy", "argocd") == std::vector<std::string>{"stale"});
  CHECK(f.api.writes() == 1);  // the label patch

  // The per-namespace override turns one namespace to enforce.
  fixture g;
  g.cfg.enforcement = policy::enforcement_mode::audit;
  g.api.add_namespace("argocd", {{"mlnetpol.io/enforcement", "enforce"}});
  g.sync_cache();
  CHECK(g.r.reconcile(g.cfg, "argocd").status == reconcile_status::ok);
  CHECK(g.api.names("NetworkPolicy", "argocd").size() == 4);
}

TEST_CASE("reconcile: a namespace removed from the config loses labels and managed objects") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  f.sync_cache();
  f.cfg.platform_namespaces = {"monitoring"};
  const auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.pruned == 4);
  CHECK(f.api.names("NetworkPolicy", "argocd").empty());
  CHECK_FALSE(f.api.labels("argocd").contains("mlnetpol.io/secured"));
  CHECK_FALSE(f.api.labels("argocd").contains("mlnetpol.io/platform"));
}

TEST_CASE("reconcile: API statuses map to what the worker does") {
  struct row {
    k8s::failure_kind kind;
    unsigned status;
    reconcile_status expected;
  };
  for (const row& r :
       {row{k8s::failure_kind::not_found, 404, reconcile_status::dropped},
        row{k8s::failure_kind::namespace_terminating, 403, reconcile_status::skipped},
        row{k8s::failure_kind::forbidden, 403, reconcile_status::forbidden},
        row{k8s::failure_kind::unauthorized, 401, reconcile_status::unauthorized},
        row{k8s::failure_kind::invalid, 422, reconcile_status::invalid},
        row{k8s::failure_kind::throttled, 429, reconcile_status::retry},
        row{k8s::failure_kind::server_error, 500, reconcile_status::retry},
        row{k8s::failure_kind::transport, 0, reconcile_status::retry}}) {
    fixture f;
    f.api.add_namespace("argocd");
    f.sync_cache();
    auto e = make_error(r.kind, r.status, "boom");
    e.retry_after = std::chrono::seconds(7);
    e.causes = {"spec.podSelector: Invalid value"};
    f.api.fail_next("apply", e);
    const auto out = f.r.reconcile(f.cfg, "argocd");
    CAPTURE(r.status);
    CHECK(out.status == r.expected);
    CHECK(out.retry_after == std::chrono::seconds(7));
    CHECK(out.message.find("apply networkpolicies.networking.k8s.io") != std::string::npos);
    if (r.expected == reconcile_status::forbidden)
      CHECK(out.message.find(
                "RBAC must grant create, patch on networkpolicies.networking.k8s.io") == 0);
    if (r.expected == reconcile_status::unauthorized) {
      CHECK(out.message.find("authentication failed: the API server does not accept mlnetpol's "
                             "credentials") == 0);
      CHECK(out.message.find("RBAC") == std::string::npos);
      CHECK(to_string(out.status) == "unauthorized");
    }
    CHECK(out.causes.size() == 1);
  }
}

TEST_CASE(
    "reconcile: a pass's lists replace the per-namespace ones; a known missing CRD is not listed") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  prelisted listed;
  auto page = f.api.list_all(k8s::network_policies, "argocd", managed_selector());
  for (auto item : page->items) listed.objects.push_back(item);
  f.api.clear_calls();
  auto out = f.r.reconcile(f.cfg, "argocd", &listed);
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.unchanged == 4);
  CHECK(f.api.calls().empty());

  out = f.r.reconcile(f.cfg, "argocd", nullptr, true);
  CHECK(f.api.calls() == std::vector<std::string>{"list NetworkPolicy argocd"});
  // Wanting Cilium objects lists them anyway (the CRD may be back).
  f.cfg.cilium_mode = true;
  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd", nullptr, true);
  CHECK(out.status == reconcile_status::ok);
  CHECK(f.api.calls().at(1) == "list CiliumNetworkPolicy argocd");
}

TEST_CASE("reconcile: a store behind our own writes is not trusted; the API server is asked") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  const auto list_of = [&] {
    prelisted listed;
    auto page = f.api.list_all(k8s::network_policies, "argocd", managed_selector());
    for (auto item : page->items) listed.objects.push_back(item);
    return listed;
  };
  const prelisted before_writes = list_of();  // empty: the watches have not delivered our creates
  REQUIRE(f.r.reconcile(f.cfg, "argocd").applied == 4);
  f.api.clear_calls();
  auto out = f.r.reconcile(f.cfg, "argocd", &before_writes);
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.applied == 0);
  CHECK(out.unchanged == 4);
  CHECK(f.api.writes() == 0);
  CHECK(f.count("list NetworkPolicy argocd") == 1);

  // Someone's edit, repaired; the store still holds the edit, not our repair: no update at the
  // edit's resourceVersion (a 409), no second repair.
  const auto live = f.api.find("NetworkPolicy", "argocd", "default-deny-egress");
  REQUIRE(live);
  f.api.put_object("NetworkPolicy", "argocd", "default-deny-egress", live->meta.labels,
                   live->meta.annotations, "kubectl-patch",
                   R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})");
  const prelisted edited = list_of();
  out = f.r.reconcile(f.cfg, "argocd", &edited);
  CHECK(out.repairs.size() == 1);
  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd", &edited);
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.repairs.empty());
  CHECK(out.applied == 0);
  CHECK(f.api.writes() == 0);
  CHECK(f.count("list NetworkPolicy argocd") == 1);

  // Once the watch delivered our repair, a different version in the store is someone's later
  // write: repaired from the store, no list.
  auto repaired = f.api.find("NetworkPolicy", "argocd", "default-deny-egress");
  REQUIRE(repaired);
  k8s::watch_event e;
  e.event_type = k8s::watch_event::type::modified;
  e.object = repaired->meta;
  e.object.kind = "NetworkPolicy";
  REQUIRE(f.r.own_write(e));
  f.api.put_object("NetworkPolicy", "argocd", "default-deny-egress", repaired->meta.labels,
                   repaired->meta.annotations, "kubectl-patch",
                   R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{}]})");
  const prelisted later = list_of();
  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd", &later);
  CHECK(out.repairs.size() == 1);
  CHECK(f.count("list ") == 0);

  // An object we pruned, still in the store: asked, not deleted twice.
  const prelisted all_four = list_of();
  f.cfg.platform_namespaces = {};
  REQUIRE(f.r.reconcile(f.cfg, "argocd").pruned > 0);
  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd", &all_four);
  CHECK(out.pruned == 0);
  CHECK(f.count("delete ") == 0);
  CHECK(f.count("list ") > 0);
}

TEST_CASE("reconciler::own_write: our apply's and delete's events are recognised, others not") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  f.r.reconcile(f.cfg, "argocd");
  auto obj = f.api.find("NetworkPolicy", "argocd", "allow-dns");
  REQUIRE(obj);
  k8s::watch_event e;
  e.event_type = k8s::watch_event::type::added;
  e.object = obj->meta;
  CHECK(f.r.own_write(e));
  e.object.resource_version = "999999";  // someone else's later write
  CHECK_FALSE(f.r.own_write(e));
  f.cfg.platform_namespaces = {};
  f.r.reconcile(f.cfg, "argocd");  // prunes
  e.event_type = k8s::watch_event::type::deleted;
  CHECK(f.r.own_write(e));
  CHECK_FALSE(f.r.own_write(e));  // consumed
}

TEST_CASE("reconcile: the set is recorded on the Namespace once every object is stored") {
  fixture f;
  f.api.add_namespace("argocd");
  f.sync_cache();
  const std::string key = "mlnetpol.io/policy-set";
  const std::string hash = policy_set_hash(policy::render_policies(f.cfg, "argocd"));
  REQUIRE_FALSE(hash.empty());
  auto out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.status == reconcile_status::ok);
  CHECK(out.set_recorded);
  CHECK(f.api.annotations("argocd").at(key) == hash);
  CHECK(f.cache.recorded_policy_set("argocd") == hash);
  // The annotation is the last write: after every object of the set.
  const auto calls = f.api.calls();
  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back().find("\"annotations\":{\"mlnetpol.io/policy-set\":\"" + hash) !=
        std::string::npos);
  CHECK(f.count("apply") == 4);

  // Recorded: the next reconcile writes nothing.
  f.api.clear_calls();
  out = f.r.reconcile(f.cfg, "argocd");
  CHECK(out.writes() == 0);
  CHECK(f.api.writes() == 0);

  SUBCASE("a set that cannot be stored is not recorded (Cilium mode without the CRD)") {
    f.api.set_cilium_installed(false);
    f.cfg.cilium_mode = true;
    CHECK(f.r.reconcile(f.cfg, "argocd").status == reconcile_status::crd_missing);
    CHECK(f.api.annotations("argocd").at(key) == hash);  // the old set's, not the new one's
    CHECK(f.cache.recorded_policy_set("argocd") == hash);
  }
  SUBCASE("an apply refused: nothing recorded") {
    f.cfg.platform_namespaces = {"argocd", "monitoring"};
    f.api.add_namespace("monitoring");
    f.sync_cache();
    f.api.fail_next("apply NetworkPolicy monitoring", make_error(k8s::failure_kind::server_error, 500));
    CHECK(f.r.reconcile(f.cfg, "monitoring").status == reconcile_status::retry);
    CHECK_FALSE(f.api.annotations("monitoring").contains(key));
    CHECK(f.r.reconcile(f.cfg, "monitoring").status == reconcile_status::ok);
    CHECK(f.api.annotations("monitoring").contains(key));
  }
  SUBCASE("audit, or leaving the lists, removes it") {
    f.cfg.enforcement = policy::enforcement_mode::audit;
    CHECK(f.r.reconcile(f.cfg, "argocd").status == reconcile_status::audited);
    CHECK_FALSE(f.api.annotations("argocd").contains(key));
    CHECK(f.cache.recorded_policy_set("argocd").empty());
    f.cfg.enforcement = policy::enforcement_mode::enforce;
    CHECK(f.r.reconcile(f.cfg, "argocd").status == reconcile_status::ok);
    CHECK(f.api.annotations("argocd").at(key) == hash);
    f.cfg.platform_namespaces = {"monitoring"};
    CHECK(f.r.reconcile(f.cfg, "argocd").status == reconcile_status::ok);
    CHECK_FALSE(f.api.annotations("argocd").contains(key));
  }
}
