// A hostile tenant against the real kube-apiserver v1.28.7 (kapi), with the project's webhooks
// registered and `mlnetpol serve` running under its own RBAC (issue 20, attacks 1, 5 and 6). The
// tenant is a ServiceAccount with every right in its namespace and, in the second variant, the
// right to patch its own Namespace; it acts with its bound token, so the webhook sees the groups
// the API server gives it. Each attack must fail:
// - labelling its namespace mlnetpol.io/enforcement=audit (or changing, removing any mlnetpol.io
//   label), in enforce and in audit, and while mlnetpol is down;
// - a hostNetwork pod in a secured namespace that is not an ML namespace;
// - changing workload-type through pods/status (a status write without it still passes, also with
//   mlnetpol down: a status webhook must never block the kubelet).
// Skipped when MLNETPOL_KAPI is unset.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/cluster.hpp"
#include "tests/e2e/tenant.hpp"
#include "tests/support/kapi.hpp"

using mlnetpol::testing::kapi_server;
using namespace mlnetpol::testing::e2e;

namespace {

const std::string host_network =
    "--overrides='{\"apiVersion\":\"v1\",\"spec\":{\"hostNetwork\":true}}'";

std::string label_patch(const std::string& key, const std::string& value) {
  return "'{\"metadata\":{\"labels\":{\"" + key + "\":\"" + value + "\"}}}'";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("e2e: a tenant cannot undo default deny (namespace labels, hostNetwork, pods/status)") {
  const auto script = mlnetpol::testing::kapi_script();
  if (!script) {
    std::puts("tenant e2e skipped: MLNETPOL_KAPI (path of the kapi script) is not set");
    return;
  }
  kapi_server kapi(*script);
  cluster_fixture c(kapi);
  c.set_config(
      "platform_namespaces: [argocd]\ntenant_namespaces: [team-a]\nml_training_namespaces: "
      "[mlops]\nml_inference_namespaces: [mlops]\nenforcement_mode: enforce\n");
  for (const char* ns : {"mlops", "team-a", "argocd"}) {
    REQUIRE(c.kubectl(std::string("create namespace ") + ns).status == 0);
    REQUIRE(c.kubectl(std::string("-n ") + ns + " create serviceaccount default").status == 0);
  }
  replica a("replica-a", c.dir, c.sa_kubeconfig, c.config, c.certs);
  REQUIRE_MESSAGE(eventually([&] { return a.ready(); }), a.log());
  c.register_webhooks(a.port());
  INFO("replica-a log:\n" << tail_of(c.dir + "/replica-a.log"));
  for (const char* ns : {"mlops", "team-a", "argocd"}) {
    REQUIRE_MESSAGE(eventually([&] { return c.labels(ns)["mlnetpol.io/secured"] == "true"; }), ns);
  }
  // The second variant: the tenant of mlops may also patch its own Namespace.
  const tenant ml = make_tenant(kapi, "mlops", "tenant-admin", true);
  const tenant team = make_tenant(kapi, "team-a", "tenant-admin", false);

  // --- attack 1: mlnetpol's namespace labels are mlnetpol's
  {
    // RBAC lets the tenant patch its Namespace: what follows is refused by mlnetpol, not by RBAC.
    const auto own = ml.kubectl("label ns mlops example.com/team=ml");
    REQUIRE_MESSAGE(own.status == 0, own.out);
    const auto off = ml.kubectl("label ns mlops mlnetpol.io/enforcement=audit");
    CHECK_MESSAGE(off.status != 0, off.out);
    CHECK_MESSAGE(contains(off.out, "mlnetpol.io/enforcement"), off.out);
    CHECK_FALSE(c.labels("mlops").contains("mlnetpol.io/enforcement"));
    const auto other = ml.kubectl("label ns mlops mlnetpol.io/anything=x");
    CHECK_MESSAGE(other.status != 0, other.out);
    const auto merge = ml.kubectl("patch ns mlops --type=merge -p " +
                                  label_patch("mlnetpol.io/enforcement", "warn"));
    CHECK_MESSAGE(merge.status != 0, merge.out);
    CHECK_FALSE(c.labels("mlops").contains("mlnetpol.io/enforcement"));
    // Removing an owned label in enforce: the mutation puts it back, so nothing changes.
    ml.kubectl("label ns mlops mlnetpol.io/secured-");
    CHECK(c.labels("mlops")["mlnetpol.io/secured"] == "true");

    // An administrator (system:masters) may set the override; then the tenant can neither take it
    // away nor change it, nor touch the other labels while the namespace is in audit.
    const auto admin = c.kubectl("label ns mlops --overwrite mlnetpol.io/enforcement=audit");
    REQUIRE_MESSAGE(admin.status == 0, admin.out);
    const auto removed = ml.kubectl("label ns mlops mlnetpol.io/enforcement-");
    CHECK_MESSAGE(removed.status != 0, removed.out);
    const auto changed = ml.kubectl("label ns mlops --overwrite mlnetpol.io/enforcement=warn");
    CHECK_MESSAGE(changed.status != 0, changed.out);
    const auto unsecured = ml.kubectl("label ns mlops mlnetpol.io/secured-");
    CHECK_MESSAGE(unsecured.status != 0, unsecured.out);
    auto labels = c.labels("mlops");
    CHECK(labels["mlnetpol.io/enforcement"] == "audit");
    CHECK(labels["mlnetpol.io/secured"] == "true");
    REQUIRE(c.kubectl("label ns mlops mlnetpol.io/enforcement-").status == 0);

    // Who tried is logged: user, groups, namespace and label.
    const std::string log = a.log();
    CHECK(contains(log, "namespace-label"));
    CHECK(contains(log, ml.username));
    CHECK(contains(log, "system:serviceaccounts:mlops"));
    CHECK(contains(log, "mlnetpol.io/enforcement"));
  }

  // --- attack 5: hostNetwork in a secured namespace that is not an ML namespace
  {
    const auto tenant_pod =
        team.kubectl("-n team-a run hostnet --image=nginx --restart=Never " + host_network);
    CHECK_MESSAGE(tenant_pod.status != 0, tenant_pod.out);
    CHECK_MESSAGE(contains(tenant_pod.out, "hostNetwork"), tenant_pod.out);
    const auto platform_pod =
        c.kubectl("-n argocd run hostnet --image=nginx --restart=Never " + host_network);
    CHECK_MESSAGE(platform_pod.status != 0, platform_pod.out);
    // The same pod without hostNetwork is admitted: the tenant may create pods there.
    const auto plain = team.kubectl("-n team-a run plain --image=nginx --restart=Never");
    CHECK_MESSAGE(plain.status == 0, plain.out);
  }

  // --- attack 6: workload-type cannot change through pods/status
  {
    const auto created = ml.kubectl(
        "-n mlops run trainer --image=nginx --restart=Never --labels=workload-type=training");
    REQUIRE_MESSAGE(created.status == 0, created.out);
    const auto direct = ml.kubectl("-n mlops patch pod trainer --type=merge -p " +
                                   label_patch("workload-type", "gpu-miner"));
    CHECK_MESSAGE(direct.status != 0, direct.out);
    for (const char* value : {"gpu-miner", "inference"}) {
      CAPTURE(value);
      const auto status = ml.kubectl(
          "-n mlops patch pod trainer --subresource=status --type=merge "
          "-p " +
          label_patch("workload-type", value));
      CHECK_MESSAGE(status.status != 0, status.out);
      CHECK_MESSAGE(contains(status.out, "status"), status.out);
    }
    CHECK(trim(c.kubectl("-n mlops get pod trainer -o jsonpath='{.metadata.labels.workload-type}'")
                   .out) == "training");
    // Adding the label through status, in a secured namespace where the pod has none.
    const auto added = team.kubectl(
        "-n team-a patch pod plain --subresource=status --type=merge "
        "-p " +
        label_patch("workload-type", "training"));
    CHECK_MESSAGE(added.status != 0, added.out);
    // Status itself stays writable.
    const auto message = ml.kubectl(
        "-n mlops patch pod trainer --subresource=status --type=merge -p "
        "'{\"status\":{\"message\":\"up\"}}'");
    CHECK_MESSAGE(message.status == 0, message.out);
  }

  // --- with mlnetpol down: the namespace labels stay refused (failurePolicy Fail for secured
  // namespaces), a status write passes (failurePolicy Ignore: the kubelet is never blocked).
  a.stop();
  {
    const auto off = ml.kubectl("label ns mlops mlnetpol.io/enforcement=audit");
    CHECK_MESSAGE(off.status != 0, off.out);
    CHECK_FALSE(c.labels("mlops").contains("mlnetpol.io/enforcement"));
    const auto message = ml.kubectl(
        "-n mlops patch pod trainer --subresource=status --type=merge -p "
        "'{\"status\":{\"message\":\"still up\"}}'");
    CHECK_MESSAGE(message.status == 0, message.out);
  }
}
