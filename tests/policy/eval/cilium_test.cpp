// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy semantics, one case per feature the
// evaluator models (Cilium's policy language reference), on the same x, y, z / a, b, c model.
#include <doctest/doctest.h>

#include "policy/eval/evaluate.hpp"
#include "tests/policy/eval/test_support.hpp"

using namespace mlnetpol::policy::eval;
using namespace mlnetpol::policy::eval::testing;

namespace {

std::string only_xa_column(const char* from_ok) {
  std::string out;
  for (int i = 0; i < 9; ++i) out += std::string(1, from_ok[i]) + "........\n";
  return out;
}

endpoint special(entity e) {
  endpoint out;
  out.special = e;
  return out;
}

endpoint service(const std::string& ns, const std::string& name) {
  endpoint out;
  out.service_name = name;
  out.service_namespace = ns;
  return out;
}

const std::string xa_sel = R"({"matchLabels":{"k8s:pod":"a"}})";

}  // namespace

TEST_CASE("Cilium endpointSelector with k8s: keys; fromEndpoints stays in the policy's namespace") {
  const auto c =
      xyz({cnp("x", "same",
               R"({"endpointSelector":)" + xa_sel + R"(,"ingress":[{"fromEndpoints":[{}]}]})")});
  CHECK(truth_table(c, 80) == only_xa_column("...XXXXXX"));
}

TEST_CASE("Cilium io.kubernetes.pod.namespace selects another namespace") {
  const auto c = xyz({cnp(
      "x", "from-yb",
      R"({"endpointSelector":)" + xa_sel +
          R"(,"ingress":[{"fromEndpoints":[{"matchLabels":{"k8s:io.kubernetes.pod.namespace":"y","pod":"b"}}]}]})")});
  CHECK(truth_table(c, 80) == only_xa_column("XXXX.XXXX"));
}

TEST_CASE("Cilium namespace labels (io.cilium.k8s.namespace.labels.*) in a clusterwide policy") {
  const auto c = xyz({ccnp(
      "from-ns-z",
      R"({"endpointSelector":{"matchLabels":{"io.kubernetes.pod.namespace":"x","pod":"a"}},"ingress":[{"fromEndpoints":[{"matchLabels":{"io.cilium.k8s.namespace.labels.ns":"z"}}]}]})")});
  CHECK(truth_table(c, 80) == only_xa_column("XXXXXX..."));
}

TEST_CASE("a clusterwide endpointSelector selects in every namespace") {
  const auto c =
      xyz({ccnp("b-closed", R"({"endpointSelector":{"matchLabels":{"pod":"b"}},"ingress":[{}]})")});
  CHECK(truth_table(c, 80) ==
        ".X..X..X.\n.X..X..X.\n.X..X..X.\n.X..X..X.\n.X..X..X.\n.X..X..X.\n.X..X..X.\n.X..X..X.\n"
        ".X..X..X.\n");
}

TEST_CASE(
    "Cilium an empty rule ({}) isolates and allows nothing; toPorts alone allows every peer") {
  const auto closed = xyz({cnp("x", "deny", R"({"endpointSelector":{},"ingress":[{}]})")});
  CHECK_FALSE(ask(closed, "y/a", "x/b", 80).allowed);
  const auto ports = xyz({cnp(
      "x", "p81",
      R"({"endpointSelector":{},"ingress":[{"toPorts":[{"ports":[{"port":"81","protocol":"TCP"}]}]}]})")});
  CHECK(ask(ports, "y/a", "x/b", 81).allowed);
  CHECK_FALSE(ask(ports, "y/a", "x/b", 80).allowed);
  CHECK_FALSE(ask(ports, "y/a", "x/b", 81, protocol::udp).allowed);
}

TEST_CASE("Cilium protocol ANY, named ports and endPort") {
  const auto c = xyz({cnp(
      "x", "ports",
      R"({"endpointSelector":{},"ingress":[{"fromEndpoints":[{"matchLabels":{"io.kubernetes.pod.namespace":"y"}}],"toPorts":[{"ports":[{"port":"80","protocol":"ANY"},{"port":"serve-81-tcp"},{"port":"9000","endPort":9010,"protocol":"TCP"}]}]}]})")});
  CHECK(ask(c, "y/a", "x/b", 80, protocol::udp).allowed);
  CHECK(ask(c, "y/a", "x/b", 80, protocol::sctp).allowed);
  CHECK(ask(c, "y/a", "x/b", 81).allowed);
  CHECK(ask(c, "y/a", "x/b", 9005).allowed);
  CHECK_FALSE(ask(c, "y/a", "x/b", 9011).allowed);
  CHECK_FALSE(ask(c, "z/a", "x/b", 80).allowed);
}

TEST_CASE("Cilium toEntities: world, cluster, kube-apiserver, host, remote-node, all") {
  auto with = [](const std::string& entities) {
    return xyz(
        {cnp("x", "ent", R"({"endpointSelector":{},"egress":[{"toEntities":)" + entities + "}]}")});
  };
  const auto world = with(R"(["world"])");
  CHECK(ask(world, pod_at(evaluator(world), "x/a"), address("52.1.2.3"), 443).allowed);
  CHECK_FALSE(ask(world, "x/a", "y/a", 80).allowed);
  CHECK_FALSE(
      ask(world, pod_at(evaluator(world), "x/a"), special(entity::kube_apiserver), 443).allowed);

  const auto cl = with(R"(["cluster"])");
  CHECK(ask(cl, "x/a", "y/a", 80).allowed);
  CHECK(ask(cl, pod_at(evaluator(cl), "x/a"), special(entity::host), 10250).allowed);
  CHECK_FALSE(ask(cl, pod_at(evaluator(cl), "x/a"), address("52.1.2.3"), 443).allowed);

  const auto api = with(R"(["kube-apiserver"])");
  CHECK(ask(api, pod_at(evaluator(api), "x/a"), special(entity::kube_apiserver), 443).allowed);
  CHECK_FALSE(ask(api, pod_at(evaluator(api), "x/a"), special(entity::host), 443).allowed);

  const auto host = with(R"(["host","remote-node"])");
  CHECK(ask(host, pod_at(evaluator(host), "x/a"), special(entity::host), 1).allowed);
  CHECK(ask(host, pod_at(evaluator(host), "x/a"), special(entity::remote_node), 1).allowed);
  CHECK_FALSE(ask(host, "x/a", "x/b", 80).allowed);

  const auto all = with(R"(["all"])");
  CHECK(ask(all, "x/a", "z/c", 80).allowed);
  CHECK(ask(all, pod_at(evaluator(all), "x/a"), address("52.1.2.3"), 443).allowed);
}

TEST_CASE("Cilium toCIDR and toCIDRSet with except") {
  const auto c = xyz({cnp(
      "x", "cidr",
      R"({"endpointSelector":{},"egress":[{"toCIDR":["192.0.2.0/24"]},{"toCIDRSet":[{"cidr":"0.0.0.0/0","except":["10.0.0.0/8"]},{"cidr":"fd00::/8"}],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}]})")});
  evaluator ev(c);
  auto to = [&](const std::string& ip, int port) {
    return ev.explain(query{pod_at(ev, "x/a"), address(ip), port, protocol::tcp}).allowed;
  };
  CHECK(to("192.0.2.5", 22));
  CHECK(to("52.1.2.3", 443));
  CHECK_FALSE(to("52.1.2.3", 80));
  CHECK_FALSE(to("10.9.9.9", 443));
  CHECK(to("fd12::1", 443));
  CHECK_FALSE(ev.explain(query{pod_at(ev, "x/a"), pod_at(ev, "y/a"), 443, protocol::tcp}).allowed);
}

TEST_CASE("Cilium toFQDNs matchName and matchPattern, with the DNS rule") {
  const auto c = xyz({cnp(
      "x", "fqdn",
      R"({"endpointSelector":{},"egress":[{"toEndpoints":[{"matchLabels":{"io.kubernetes.pod.namespace":"z","pod":"c"}}],"toPorts":[{"ports":[{"port":"53","protocol":"ANY"}],"rules":{"dns":[{"matchPattern":"*"}]}}]},{"toFQDNs":[{"matchName":"sts.amazonaws.com"},{"matchPattern":"*.s3.*.amazonaws.com"}],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}]})")});
  evaluator ev(c);
  auto to = [&](const std::string& host, int port) {
    return ev.explain(query{pod_at(ev, "x/a"), address("52.1.2.3", host), port, protocol::tcp});
  };
  CHECK(to("sts.amazonaws.com", 443).allowed);
  CHECK(to("STS.amazonaws.com", 443).allowed);
  CHECK(to("bucket.s3.us-east-1.amazonaws.com", 443).allowed);
  CHECK_FALSE(to("a.b.s3.us-east-1.amazonaws.com", 443).allowed);  // `*` stays in one label
  CHECK_FALSE(to("sts.amazonaws.com", 80).allowed);
  const auto denied = to("example.com", 443);
  CHECK_FALSE(denied.allowed);
  REQUIRE(denied.egress.policies.size() == 1);
  CHECK(denied.egress.policies[0].rule == "spec.egress[1]");
  CHECK(denied.egress.policies[0].mismatches[0].find("example.com does not match") !=
        std::string::npos);
  const auto dns = ev.explain(query{pod_at(ev, "x/a"), pod_at(ev, "z/c"), 53, protocol::udp});
  CHECK(dns.allowed);
  REQUIRE(dns.egress.policies[0].notes.size() == 1);
  CHECK(dns.egress.policies[0].notes[0] == "DNS queries limited to * (L7 DNS rule)");
}

TEST_CASE("Cilium toServices k8sService") {
  const auto c = xyz({cnp(
      "x", "svc",
      R"({"endpointSelector":{},"egress":[{"toServices":[{"k8sService":{"serviceName":"postgres","namespace":"database"}}]}]})")});
  CHECK(ask(c, pod_at(evaluator(c), "x/a"), service("database", "postgres"), 5432).allowed);
  CHECK_FALSE(ask(c, pod_at(evaluator(c), "x/a"), service("database", "redis"), 6379).allowed);
}

TEST_CASE("Cilium ingressDeny and egressDeny win over every allow") {
  const auto c = xyz(
      {cnp("x", "allow-all", R"({"endpointSelector":{},"ingress":[{"fromEntities":["all"]}]})"),
       cnp("x", "deny-y",
           R"({"endpointSelector":{},"ingressDeny":[{"fromEndpoints":[{"matchLabels":{"io.kubernetes.pod.namespace":"y"}}],"toPorts":[{"ports":[{"port":"80"}]}]}]})"),
       ccnp(
           "no-z-egress",
           R"({"endpointSelector":{"matchLabels":{"io.kubernetes.pod.namespace":"z"}},"egress":[{"toEntities":["all"]}],"egressDeny":[{"toCIDR":["198.51.100.0/24"]}]})")});
  CHECK(truth_table(c, 80) ==
        ".........\n.........\n.........\nXXX......\nXXX......\nXXX......\n.........\n.........\n"
        ".........\n");
  CHECK(ask(c, "y/a", "x/a", 81).allowed);
  const auto a = ask(c, "y/a", "x/a", 80);
  REQUIRE(a.ingress.policies.size() == 2);
  CHECK(a.ingress.policies[1].eff == policy_answer::effect::denies);
  CHECK(a.ingress.policies[1].rule == "spec.ingressDeny[0]");
  evaluator ev(c);
  CHECK_FALSE(
      ev.explain(query{pod_at(ev, "z/a"), address("198.51.100.4"), 1, protocol::tcp}).allowed);
  CHECK(ev.explain(query{pod_at(ev, "z/a"), address("198.51.99.4"), 1, protocol::tcp}).allowed);
}

TEST_CASE("Cilium deny rules alone still isolate the endpoint") {
  const auto c = xyz({cnp(
      "x", "deny-only", R"({"endpointSelector":{},"ingressDeny":[{"fromEntities":["world"]}]})")});
  CHECK_FALSE(ask(c, "y/a", "x/a", 80).allowed);
}

TEST_CASE("Cilium enableDefaultDeny false adds rules without isolating") {
  const auto c = xyz({cnp(
      "x", "add-only",
      R"({"endpointSelector":{},"enableDefaultDeny":{"ingress":false},"ingress":[{"fromEndpoints":[{}]}]})")});
  CHECK(truth_table(c, 80) == all_connected);
}

TEST_CASE("NetworkPolicy and Cilium policies on one pod: their allows add up") {
  const auto c = xyz(
      {netpol(
           "x", "from-y",
           R"({"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}]}]})"),
       cnp("x", "from-zc",
           R"({"endpointSelector":)" + xa_sel +
               R"(,"ingress":[{"fromEndpoints":[{"matchLabels":{"io.kubernetes.pod.namespace":"z","pod":"c"}}]}]})")});
  CHECK(truth_table(c, 80) == only_xa_column("XXX...XX."));
}

TEST_CASE("fields the evaluator does not model are named in the answer") {
  const auto c = xyz({cnp(
      "x", "l7",
      R"({"endpointSelector":{},"ingress":[{"fromEndpoints":[{}],"fromRequires":[{"matchLabels":{"env":"prod"}}],"toPorts":[{"ports":[{"port":"80"}],"rules":{"http":[{"method":"GET"}]}}]}]})")});
  const auto a = ask(c, "x/b", "x/a", 80);
  CHECK(a.allowed);
  REQUIRE(a.ingress.unsupported.size() == 2);
  CHECK(a.ingress.unsupported[0] == "CiliumNetworkPolicy x/l7: spec.ingress[0].fromRequires");
  CHECK(a.ingress.unsupported[1] ==
        "CiliumNetworkPolicy x/l7: spec.ingress[0].toPorts[0].rules.http");
}
