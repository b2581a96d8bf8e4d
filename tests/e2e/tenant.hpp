#pragma once
// A hostile tenant for the e2e suites: a ServiceAccount in its namespace, bound by a RoleBinding to
// a Role with every right there (a namespace-wide wildcard, pods/status included), optionally a
// ClusterRole letting it get and patch its own Namespace object (as several platforms allow). Its
// kubectl runs with the account's bound token (`kubectl create token`), never `--as`: the API
// server itself sets its user and groups, as the webhook sees them in a cluster.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/cluster.hpp"
#include "tests/support/kapi.hpp"

namespace mlnetpol::testing::e2e {

// Attack 2 of issue 20: a tenant's own NetworkPolicy opening team-a completely.
inline constexpr const char* allow_all_team_a = R"yaml(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: team-a}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}]
)yaml";

struct tenant {
  std::string name;  // the ServiceAccount's name
  std::string namespace_name;
  std::string username;    // system:serviceaccount:<namespace>:<name>
  std::string kubeconfig;  // with the bound token

  // kubectl as the tenant; stdout and stderr together.
  command_result kubectl(const std::string& args) const {
    return run_command("KUBECONFIG=" + shell_quote(kubeconfig) + " kubectl " + args + " 2>&1");
  }
};

// Creates the tenant `name` in namespace `ns` (which must exist) with the admin kubeconfig.
inline tenant make_tenant(const kapi_server& kapi, const std::string& ns, const std::string& name,
                          bool may_patch_namespace) {
  const std::string dir = kapi.dir();
  std::string yaml =
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: " + name + ", namespace: " + ns +
      "}\n---\n"
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: " +
      name + ", namespace: " + ns +
      "}\nrules:\n- {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n---\n"
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: "
      "{name: " +
      name + ", namespace: " + ns +
      "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: " + name +
      "}\nsubjects:\n- {kind: ServiceAccount, name: " + name + ", namespace: " + ns + "}\n";
  if (may_patch_namespace) {
    const std::string role = name + "-" + ns + "-namespace";
    yaml +=
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " +
        role + "}\nrules:\n- {apiGroups: [''], resources: [namespaces], resourceNames: [" + ns +
        "], verbs: [get, patch, update]}\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: " +
        role +
        "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + role +
        "}\nsubjects:\n- {kind: ServiceAccount, name: " + name + ", namespace: " + ns + "}\n";
  }
  const std::string file = dir + "/tenant-" + ns + "-" + name + ".yaml";
  write_text(file, yaml);
  const auto applied = kapi.kubectl("apply -f " + shell_quote(file) + " 2>&1");
  REQUIRE_MESSAGE(applied.status == 0, applied.out);
  const auto token = kapi.kubectl("-n " + ns + " create token " + name + " --duration=1h");
  REQUIRE(token.status == 0);
  REQUIRE(!trim(token.out).empty());
  tenant t{name, ns, "system:serviceaccount:" + ns + ":" + name,
           dir + "/tenant-" + ns + "-" + name + ".kubeconfig"};
  write_text(t.kubeconfig,
             "apiVersion: v1\nkind: Config\nclusters:\n- name: kapi\n  cluster:\n"
             "    server: " +
                 kapi.url() + "\n    certificate-authority: " + kapi.ca_file() +
                 "\nusers:\n- name: " + name + "\n  user:\n    token: " + trim(token.out) +
                 "\ncontexts:\n- name: tenant\n  context: {cluster: "
                 "kapi, user: " +
                 name + ", namespace: " + ns + "}\ncurrent-context: tenant\n");
  // The identity is the account's own (not the admin's): the API server says who it is.
  const auto who = t.kubectl("auth whoami -o jsonpath='{.status.userInfo.username}'");
  REQUIRE_MESSAGE(who.out == t.username, who.out);
  return t;
}

}  // namespace mlnetpol::testing::e2e
