// Issue 25's stolen-token steps, replayed with mlnetpol's own service-account token (its RBAC from
// manifests/base, a bound token from `kubectl create token`) against kube-apiserver v1.28.7 with
// ValidatingAdmissionPolicy on and manifests/components/self-restriction installed by the admin,
// while one `mlnetpol serve --cert-management=self` replica leads:
//   - the token reads no Secret but its own and cannot touch the policy that restricts it;
//   - an `evil.mlnetpol.io` webhook added to the MutatingWebhookConfiguration: refused by the
//     policy; added by someone else: the leader removes it within seconds;
//   - pod-security labels on kube-system or mlnetpol-system, an allow-all policy without
//     mlnetpol's managed-by label: refused; mlnetpol's own work (labels, default policies,
//     caBundle) still goes through;
//   - without the policy (a cluster without ValidatingAdmissionPolicy): whatever the token changes
//     in the webhook configurations is set back as shipped within seconds.
// Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/client.hpp"
#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace k8s = mlnetpol::k8s;
using namespace std::chrono_literals;
using mlnetpol::testing::kapi_server;
using mlnetpol::testing::shell_quote;
using namespace mlnetpol::testing::e2e;
using json = nlohmann::json;

namespace {

constexpr const char* evil_webhook = R"({"op":"add","path":"/webhooks/-","value":{
  "name":"evil.mlnetpol.io","clientConfig":{"url":"https://127.0.0.1:9/steal"},
  "rules":[{"apiGroups":[""],"apiVersions":["v1"],"operations":["CREATE"],"resources":["secrets"]}],
  "admissionReviewVersions":["v1"],"sideEffects":"None","failurePolicy":"Ignore"}})";

json configuration(const kapi_server& kapi, const std::string& kind) {
  const auto r = kapi.kubectl("get " + kind + " mlnetpol -o json");
  return r.status == 0 ? json::parse(r.out, nullptr, false) : json();
}

std::vector<std::string> mutating_names(const kapi_server& kapi) {
  std::vector<std::string> out;
  const json c = configuration(kapi, "mutatingwebhookconfiguration");
  if (c.is_object() && c.contains("webhooks"))
    for (const auto& w : c["webhooks"]) out.push_back(w["name"]);
  return out;
}

json webhook(const kapi_server& kapi, const std::string& kind, const std::string& name) {
  const json c = configuration(kapi, kind);
  if (c.is_object() && c.contains("webhooks"))
    for (const auto& w : c["webhooks"])
      if (w["name"] == name) return w;
  return json::object();
}

json mutating_webhook(const kapi_server& kapi, const std::string& name) {
  return webhook(kapi, "mutatingwebhookconfiguration", name);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// "" when the call succeeded, else "<HTTP status> <message>".
template <class Result>
std::string refusal(const Result& r) {
  if (r) return "";
  return std::to_string(r.error().status) + " " + r.error().message;
}

bool by_policy(const std::string& refused) {
  return refused.starts_with("403") &&
         refused.find("mlnetpol-self-restriction") != std::string::npos;
}

}  // namespace

TEST_CASE("a stolen mlnetpol token: refused by the self-restriction policy, undone by the leader") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("stolen-token e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  kapi.stop_apiserver();
  kapi.start_apiserver({"--feature-gates=ValidatingAdmissionPolicy=true",
                        "--runtime-config=admissionregistration.k8s.io/v1beta1=true"});
  cluster_fixture f(kapi);
  auto stolen_config = k8s::load_kubeconfig(f.sa_kubeconfig);
  REQUIRE(stolen_config.has_value());
  k8s::client stolen(*stolen_config);  // the token, as taken from a replica
  k8s::client& admin = *f.admin;

  // The admin installs the namespace manifest and the self-restriction component.
  for (const std::string& args :
       {"apply -f " + shell_quote(source + "/manifests/base/namespace.yaml"),
        "apply -k " + shell_quote(source + "/manifests/components/self-restriction"),
        std::string("create ns training"), std::string("create ns open")}) {
    const auto r = f.kubectl(args);
    REQUIRE_MESSAGE(r.status == 0, args << ": " << r.out);
  }
  // The policy is in force once it refuses a harmless write (an annotation outside mlnetpol.io/,
  // a new value each time: a write that changes nothing passes the policy).
  int probe = 0;
  REQUIRE_MESSAGE(
      eventually(
          [&] {
            return by_policy(refusal(stolen.merge_patch(
                k8s::namespaces, "", "open",
                R"({"metadata":{"annotations":{"probe":")" + std::to_string(++probe) + R"("}}})")));
          },
          30s),
      "the self-restriction policy never refused the probe");

  f.set_config(
      "platform_namespaces: []\ntenant_namespaces: []\nml_training_namespaces: [training]\n"
      "ml_inference_namespaces: []\nenforcement_mode: enforce\n");
  // Registered by URL on this host; the leader keeps them as the built-in manifest rendered for
  // the same URL (--webhook-url) and fills in caBundle. The later --port wins over the fixture's.
  const int port = free_port();
  {
    write_text(f.dir + "/webhooks.yaml", local_webhooks(port));
    const auto applied = f.kubectl("apply -f " + shell_quote(f.dir + "/webhooks.yaml"));
    REQUIRE_MESSAGE(applied.status == 0, applied.out);
  }
  replica leader("replica-a", f.dir, f.sa_kubeconfig, f.config, f.certs,
                 {"--port=" + std::to_string(port), "--cert-management=self",
                  "--cert-extra-san=127.0.0.1", "--cert-propagation=2s", "--cert-check-interval=1s",
                  "--webhook-url=https://127.0.0.1:" + std::to_string(port)});
  REQUIRE_MESSAGE(eventually([&] { return leader.ready(); }, 40s), leader.log());
  // mlnetpol's own work passes the policy: the namespace labelled, its default policies written.
  REQUIRE_MESSAGE(
      eventually([&] { return !f.names(k8s::network_policies, "training").empty(); }, 30s),
      leader.log());
  CHECK(f.labels("training").count("mlnetpol.io/secured") == 1);
  const std::vector<std::string> shipped = mutating_names(kapi);
  REQUIRE(shipped.size() == 2);

  // 1. The CA key: the token reads its own Secret only (by name), nothing else.
  CHECK(refusal(stolen.get_raw(k8s::secrets, "kube-system", "anything")).starts_with("403"));
  CHECK(refusal(stolen.list_raw(k8s::secrets, "mlnetpol-system")).starts_with("403"));
  // The Secret's informer lists by name (fieldSelector metadata.name, granted by resourceNames):
  // that one Secret only; another name, a label selector or another namespace is refused.
  const auto own = stolen.list_object(k8s::secrets, "mlnetpol-system", "mlnetpol-tls");
  REQUIRE_MESSAGE(own.has_value(), refusal(own));
  REQUIRE(own->items.size() == 1);
  CHECK(own->items[0].name == "mlnetpol-tls");
  CHECK(refusal(stolen.list_object(k8s::secrets, "mlnetpol-system", "other")).starts_with("403"));
  CHECK(refusal(stolen.list_object(k8s::secrets, "kube-system", "mlnetpol-tls")).starts_with("403"));
  CHECK(refusal(stolen.list(k8s::secrets, "mlnetpol-system", "app=x", 0, "")).starts_with("403"));
  // ... and cannot remove or loosen the policy that restricts it.
  const k8s::resource policies{"admissionregistration.k8s.io", "v1beta1",
                               "validatingadmissionpolicies", "ValidatingAdmissionPolicy", false};
  const k8s::resource bindings{"admissionregistration.k8s.io", "v1beta1",
                               "validatingadmissionpolicybindings",
                               "ValidatingAdmissionPolicyBinding", false};
  CHECK(refusal(stolen.remove(policies, "", "mlnetpol-self-restriction")).starts_with("403"));
  CHECK(refusal(stolen.remove(bindings, "", "mlnetpol-self-restriction")).starts_with("403"));
  CHECK(refusal(stolen.merge_patch(bindings, "", "mlnetpol-self-restriction",
                                   R"({"spec":{"validationActions":["Audit"]}})"))
            .starts_with("403"));

  // 2. The evil webhook: refused with the token.
  CHECK(by_policy(refusal(stolen.json_patch(k8s::mutating_webhook_configurations, "", "mlnetpol",
                                            std::string("[") + evil_webhook + "]"))));
  // ... changing a shipped one (its failurePolicy; the workloads' ship Ignore) or removing one:
  // refused too.
  CHECK(by_policy(refusal(stolen.json_patch(
      k8s::mutating_webhook_configurations, "", "mlnetpol",
      R"([{"op":"replace","path":"/webhooks/1/failurePolicy","value":"Fail"}])"))));
  CHECK(by_policy(refusal(stolen.json_patch(k8s::validating_webhook_configurations, "", "mlnetpol",
                                            R"([{"op":"remove","path":"/webhooks/0"}])"))));
  // Added by someone else (an admin, another controller): the leader removes it within seconds.
  REQUIRE(refusal(admin.json_patch(k8s::mutating_webhook_configurations, "", "mlnetpol",
                                   std::string("[") + evil_webhook + "]")) == "");
  CHECK_MESSAGE(eventually([&] { return mutating_names(kapi) == shipped; }, 15s), leader.log());
  CHECK(leader.log().find("set back as shipped") != std::string::npos);
  // A shipped webhook changed by someone else: the policy lets the leader remove webhooks, not set
  // fields back; it says so once in its log, and the rotation goes on.
  REQUIRE(refusal(admin.json_patch(
              k8s::validating_webhook_configurations, "", "mlnetpol",
              R"([{"op":"replace","path":"/webhooks/0/timeoutSeconds","value":29}])")) == "");
  CHECK_MESSAGE(eventually([&] { return count(leader.log(), "cannot set it back") == 1; }, 15s),
                leader.log());

  // 3. Namespaces: pod-security labels, on kube-system and its own namespace: refused.
  CHECK(by_policy(refusal(stolen.merge_patch(
      k8s::namespaces, "", "kube-system",
      R"({"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"privileged"}}})"))));
  CHECK(by_policy(refusal(stolen.merge_patch(
      k8s::namespaces, "", "mlnetpol-system",
      R"({"metadata":{"labels":{"pod-security.kubernetes.io/enforce":null}}})"))));
  CHECK(f.labels("mlnetpol-system").at("pod-security.kubernetes.io/enforce") == "restricted");
  CHECK(f.labels("kube-system").count("pod-security.kubernetes.io/enforce") == 0);

  // 3b. A cluster-wide Cilium policy: RBAC lets the token create one (create cannot be limited by
  // name), the policy only mlnetpol-default-deny, even labelled as mlnetpol's.
  {
    const auto crd = f.kubectl(
        "apply -f " +
        shell_quote(source + "/tests/schemas/cilium-crds/ciliumclusterwidenetworkpolicies.yaml"));
    REQUIRE_MESSAGE(crd.status == 0, crd.out);
    const std::string open_all =
        R"({"apiVersion":"cilium.io/v2","kind":"CiliumClusterwideNetworkPolicy",
            "metadata":{"name":"open-all","labels":{"app.kubernetes.io/managed-by":"mlnetpol"}},
            "spec":{"endpointSelector":{},"egress":[{"toEntities":["all"]}]}})";
    std::string refused;
    // The CRD is served once established: until then the create answers 404.
    CHECK_MESSAGE(eventually(
                      [&] {
                        refused = refusal(
                            stolen.create(k8s::cilium_clusterwide_network_policies, "", open_all));
                        return !refused.starts_with("404");
                      },
                      15s),
                  refused);
    CHECK_MESSAGE(by_policy(refused), refused);
    CHECK(refused.find("no CiliumClusterwideNetworkPolicy but mlnetpol-default-deny") !=
          std::string::npos);
  }

  // 4. An allow-all policy without mlnetpol's label: refused; deleting a tenant's: refused.
  const std::string allow_all =
      R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
          "metadata":{"name":"allow-all"},
          "spec":{"podSelector":{},"ingress":[{}],"egress":[{}],
                  "policyTypes":["Ingress","Egress"]}})";
  CHECK(by_policy(refusal(stolen.create(k8s::network_policies, "open", allow_all))));
  REQUIRE(refusal(admin.create(k8s::network_policies, "open", allow_all)) == "");
  CHECK(by_policy(refusal(stolen.remove(k8s::network_policies, "open", "allow-all"))));

  // 5. Without the policy (the binding removed by the admin): the token's webhook edits succeed
  // and the leader sets both configurations back as shipped within seconds.
  REQUIRE(f.kubectl("delete validatingadmissionpolicybinding mlnetpol-self-restriction").status ==
          0);
  // The admin's change above is set back now.
  CHECK_MESSAGE(eventually(
                    [&] {
                      return webhook(kapi, "validatingwebhookconfiguration",
                                     "namespaces.validate.mlnetpol.io")["timeoutSeconds"] == 5;
                    },
                    15s),
                leader.log());
  // A field of a shipped webhook only (the mutation of pods switched to fail closed) ...
  REQUIRE_MESSAGE(
      eventually(
          [&] {
            return refusal(stolen.json_patch(k8s::mutating_webhook_configurations, "", "mlnetpol",
                                             R"([{"op":"replace","path":"/webhooks/1/failurePolicy",
                                        "value":"Fail"}])")) == "";
          },
          20s),
      "the token's edit was never admitted once the binding was gone");
  CHECK_MESSAGE(
      eventually([&] { return mutating_webhook(kapi, shipped[1])["failurePolicy"] == "Ignore"; },
                 15s),
      leader.log());
  // ... then the evil webhook.
  REQUIRE(refusal(stolen.json_patch(k8s::mutating_webhook_configurations, "", "mlnetpol",
                                    std::string("[") + evil_webhook + "]")) == "");
  CHECK_MESSAGE(eventually([&] { return mutating_names(kapi) == shipped; }, 15s), leader.log());
  // The repairs kept caBundle (the rotation's).
  CHECK(mutating_webhook(kapi, shipped[1])["clientConfig"].contains("caBundle"));
  // Exactly the four repairs: the rendering matches what the API server stored (no repair loop).
  CHECK(leader.metric("mlnetpol_webhook_configuration_repairs_total") == 4);
  CHECK(count(leader.log(), "cannot set it back") == 1);
  CHECK(leader.log().find("workloads.mutate.mlnetpol.io changed: failurePolicy") !=
        std::string::npos);
  CHECK(leader.log().find("evil.mlnetpol.io added") != std::string::npos);
}
