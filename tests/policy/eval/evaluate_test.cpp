// NetworkPolicy v1 semantics as the Kubernetes documentation states them, in the shape of the
// upstream e2e suite (namespaces x, y, z; pods a, b, c; truth tables: row = source, column =
// destination, order x/a x/b x/c y/a y/b y/c z/a z/b z/c; '.' connected, 'X' blocked).
#include "policy/eval/evaluate.hpp"

#include <doctest/doctest.h>

#include "tests/policy/eval/test_support.hpp"

using namespace mlnetpol::policy::eval;
using namespace mlnetpol::policy::eval::testing;

namespace {

struct table_case {
  const char* name;
  std::vector<std::string> policies;
  int port;
  protocol proto;
  std::string expected;
};

std::string rows(std::initializer_list<const char*> r) {
  std::string out;
  for (const char* row : r) out += std::string(row) + "\n";
  return out;
}

// Only x/a's column is restricted: `from_ok` lists, per source row, whether it may reach x/a.
std::string only_xa_column(const char* from_ok) {
  std::string out;
  for (int i = 0; i < 9; ++i) out += std::string(1, from_ok[i]) + "........\n";
  return out;
}

const std::string xa = R"({"matchLabels":{"pod":"a"}})";

const std::vector<table_case> network_policy_cases = {
    {"no policy: everything connects", {}, 80, protocol::tcp, all_connected},
    {"default deny ingress in x (policyTypes defaults to Ingress)",
     {netpol("x", "deny", R"({"podSelector":{}})")},
     80,
     protocol::tcp,
     rows({"XXX......", "XXX......", "XXX......", "XXX......", "XXX......", "XXX......",
           "XXX......", "XXX......", "XXX......"})},
    {"default deny egress in x",
     {netpol("x", "deny", R"({"podSelector":{},"policyTypes":["Egress"]})")},
     80,
     protocol::tcp,
     rows({"XXXXXXXXX", "XXXXXXXXX", "XXXXXXXXX", ".........", ".........", ".........",
           ".........", ".........", "........."})},
    {"allow-all ingress ({} rule) keeps everything open",
     {netpol("x", "all", R"({"podSelector":{},"ingress":[{}]})")},
     80,
     protocol::tcp,
     all_connected},
    {"bare podSelector {} peer means the policy's namespace",
     {netpol("x", "same-ns",
             R"({"podSelector":)" + xa + R"(,"ingress":[{"from":[{"podSelector":{}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("...XXXXXX")},
    {"namespaceSelector: every pod of namespace y",
     {netpol("x", "from-y",
             R"({"podSelector":)" + xa +
                 R"(,"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXX...XXX")},
    {"namespaceSelector and podSelector in one peer: AND",
     {netpol(
         "x", "and",
         R"({"podSelector":)" + xa +
             R"(,"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}},"podSelector":{"matchLabels":{"pod":"b"}}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXX.XXXX")},
    {"namespaceSelector and podSelector in two peers: OR",
     {netpol(
         "x", "or",
         R"({"podSelector":)" + xa +
             R"(,"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}},{"podSelector":{"matchLabels":{"pod":"b"}}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("X.X...XXX")},
    {"namespaceSelector {} with podSelector: that pod in every namespace",
     {netpol(
         "x", "any-ns",
         R"({"podSelector":)" + xa +
             R"(,"ingress":[{"from":[{"namespaceSelector":{},"podSelector":{"matchLabels":{"pod":"c"}}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XX.XX.XX.")},
    {"matchExpressions NotIn",
     {netpol(
         "x", "notin",
         R"({"podSelector":)" + xa +
             R"(,"ingress":[{"from":[{"namespaceSelector":{"matchExpressions":[{"key":"ns","operator":"NotIn","values":["x","y"]}]}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXXXX...")},
    {"matchExpressions In on pods and Exists on namespaces",
     {netpol(
         "x", "in",
         R"({"podSelector":)" + xa +
             R"(,"ingress":[{"from":[{"namespaceSelector":{"matchExpressions":[{"key":"ns","operator":"Exists"}]},"podSelector":{"matchExpressions":[{"key":"pod","operator":"In","values":["a","b"]}]}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("..X..X..X")},
    {"matchExpressions DoesNotExist matches no labelled pod",
     {netpol(
         "x", "dne",
         R"({"podSelector":)" + xa +
             R"(,"ingress":[{"from":[{"podSelector":{"matchExpressions":[{"key":"pod","operator":"DoesNotExist"}]}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXXXXXXX")},
    {"ports: only 81 is open, asked on 80",
     {netpol("x", "p81", R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":81}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXXXXXXX")},
    {"ports: only 81 is open, asked on 81",
     {netpol("x", "p81", R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":81}]}]})")},
     81,
     protocol::tcp,
     all_connected},
    {"named port resolves on the destination pod",
     {netpol("x", "named",
             R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":"serve-81-tcp"}]}]})")},
     81,
     protocol::tcp,
     all_connected},
    {"named port: 80 is not serve-81-tcp",
     {netpol("x", "named",
             R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":"serve-81-tcp"}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXXXXXXX")},
    {"endPort: a range",
     {netpol("x", "range",
             R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":79,"endPort":81}]}]})")},
     80,
     protocol::tcp,
     all_connected},
    {"endPort: outside the range",
     {netpol("x", "range",
             R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":81,"endPort":90}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXXXXXXX")},
    {"protocol: UDP 80 open, TCP 80 asked",
     {netpol(
         "x", "udp",
         R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"protocol":"UDP","port":80}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXXXXXXXX")},
    {"protocol: UDP 80 open, UDP 80 asked",
     {netpol(
         "x", "udp",
         R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"protocol":"UDP","port":80}]}]})")},
     80,
     protocol::udp,
     all_connected},
    {"protocol: SCTP named port",
     {netpol("x", "sctp",
             R"({"podSelector":)" + xa +
                 R"(,"ingress":[{"ports":[{"protocol":"SCTP","port":"serve-80-sctp"}]}]})")},
     80,
     protocol::sctp,
     all_connected},
    {"a port without protocol is TCP",
     {netpol("x", "tcp", R"({"podSelector":)" + xa + R"(,"ingress":[{"ports":[{"port":80}]}]})")},
     80,
     protocol::udp,
     only_xa_column("XXXXXXXXX")},
    {"the union of policies: each adds what it allows",
     {netpol("x", "from-y",
             R"({"podSelector":)" + xa +
                 R"(,"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}]}]})"),
      netpol(
          "x", "from-zb",
          R"({"podSelector":)" + xa +
              R"(,"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"z"}},"podSelector":{"matchLabels":{"pod":"b"}}}]}]})")},
     80,
     protocol::tcp,
     only_xa_column("XXX...X.X")},
    {"egress rules without policyTypes isolate both directions (Ingress is implied)",
     {netpol("x", "egress-only",
             R"({"podSelector":)" + xa +
                 R"(,"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}]}]})")},
     80,
     protocol::tcp,
     rows({"XXX...XXX", "X........", "X........", "X........", "X........", "X........",
           "X........", "X........", "X........"})},
    {"policyTypes Egress alone: ingress rules are ignored",
     {netpol(
         "x", "types",
         R"({"podSelector":)" + xa +
             R"(,"policyTypes":["Egress"],"ingress":[{"from":[{"podSelector":{"matchLabels":{"pod":"zzz"}}}]}],"egress":[{}]})")},
     80,
     protocol::tcp,
     all_connected},
    {"both ends must allow: x egress to y only, y/b ingress from z only",
     {netpol(
          "x", "egress-y",
          R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}]}]})"),
      netpol(
          "y", "b-from-z",
          R"({"podSelector":{"matchLabels":{"pod":"b"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"z"}}}]}]})")},
     80,
     protocol::tcp,
     rows({"XXX.X.XXX", "XXX.X.XXX", "XXX.X.XXX", "....X....", "....X....", "....X....",
           ".........", ".........", "........."})},
    {"a policy selects only pods of its own namespace",
     {netpol("y", "deny", R"({"podSelector":{"matchLabels":{"pod":"a"}}})")},
     80,
     protocol::tcp,
     rows({"...X.....", "...X.....", "...X.....", "...X.....", "...X.....", "...X.....",
           "...X.....", "...X.....", "...X....."})},
};

}  // namespace

TEST_CASE("NetworkPolicy truth tables (upstream e2e model)") {
  for (const auto& tc : network_policy_cases) {
    const std::string name = tc.name;
    CAPTURE(name);
    CHECK(truth_table(xyz(tc.policies), tc.port, tc.proto) == tc.expected);
  }
}

TEST_CASE("ipBlock with except, IPv4 and IPv6, for peers outside the cluster") {
  const auto c = xyz({netpol(
      "x", "egress-ip",
      R"({"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.0/8","169.254.169.254/32"]}},{"ipBlock":{"cidr":"2001:db8::/32","except":["2001:db8:dead::/48"]}}],"ports":[{"port":443}]}]})")});
  evaluator ev(c);
  auto verdict = [&](const std::string& ip, int port) {
    return ev.explain(query{pod_at(ev, "x/a"), address(ip), port, protocol::tcp}).allowed;
  };
  CHECK(verdict("52.216.1.2", 443));
  CHECK_FALSE(verdict("52.216.1.2", 80));
  CHECK_FALSE(verdict("10.1.2.3", 443));
  CHECK_FALSE(verdict("169.254.169.254", 443));
  CHECK(verdict("169.254.169.253", 443));
  CHECK(verdict("2001:db8:1::5", 443));
  CHECK_FALSE(verdict("2001:db8:dead::5", 443));
  CHECK_FALSE(verdict("2001:db9::1", 443));
  // Another namespace's pods are not isolated for egress.
  CHECK(ev.explain(query{pod_at(ev, "y/a"), address("10.1.2.3"), 443, protocol::tcp}).allowed);
  // An ipBlock does not select pods (their addresses are the pod network's).
  CHECK_FALSE(ev.explain(query{pod_at(ev, "x/a"), pod_at(ev, "y/a"), 443, protocol::tcp}).allowed);
}

TEST_CASE("ingress from outside the cluster by address") {
  const auto c = xyz(
      {netpol("x", "lb",
              R"({"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"192.0.2.0/24"}}]}]})")});
  CHECK(ask(c, address("192.0.2.7"), pod_at(evaluator(c), "x/b"), 80).allowed);
  CHECK_FALSE(ask(c, address("198.51.100.1"), pod_at(evaluator(c), "x/b"), 80).allowed);
}

TEST_CASE("the answer names the allowing rule, or the nearest rule and what does not match") {
  const auto c = xyz({netpol(
      "x", "db",
      R"({"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}},"podSelector":{"matchLabels":{"pod":"b"}}}],"ports":[{"port":5432}]},{"from":[{"podSelector":{"matchLabels":{"pod":"c"}}}],"ports":[{"port":80}]}]})")});
  SUBCASE("allowed: policy and rule") {
    const auto a = ask(c, "x/c", "x/a", 80);
    CHECK(a.allowed);
    CHECK_FALSE(a.egress.isolated);
    REQUIRE(a.ingress.policies.size() == 1);
    CHECK(a.ingress.policies[0].eff == policy_answer::effect::allows);
    CHECK(a.ingress.policies[0].rule == "spec.ingress[1]");
  }
  SUBCASE("denied by the port: the nearest rule is the one whose peer matches") {
    const auto a = ask(c, "y/b", "x/a", 80);
    CHECK_FALSE(a.allowed);
    CHECK(a.ingress.isolated);
    REQUIRE(a.ingress.policies.size() == 1);
    const auto& p = a.ingress.policies[0];
    CHECK(p.eff == policy_answer::effect::no_match);
    CHECK(p.rule == "spec.ingress[0]");
    REQUIRE(p.mismatches.size() == 1);
    CHECK(p.mismatches[0] == "port TCP/80 is not in [TCP/5432]");
  }
  SUBCASE("denied by a label: named with what the pod has") {
    const auto a = ask(c, "y/c", "x/a", 5432);
    const auto& p = a.ingress.policies[0];
    CHECK(p.rule == "spec.ingress[0]");
    REQUIRE(p.mismatches.size() == 1);
    CHECK(p.mismatches[0].find("needs pod=b (has pod=c)") != std::string::npos);
  }
  SUBCASE("denied by the namespace") {
    const auto a = ask(c, "z/b", "x/a", 5432);
    const auto& p = a.ingress.policies[0];
    REQUIRE(p.mismatches.size() == 1);
    CHECK(p.mismatches[0].find("namespace z needs ns=y (has ns=z)") != std::string::npos);
  }
}

TEST_CASE(
    "a connection from or to a place outside the cluster is decided by the pod's side alone") {
  const auto c = xyz({});
  const auto a = ask(c, address("203.0.113.9"), pod_at(evaluator(c), "x/a"), 80);
  CHECK(a.allowed);
  CHECK_FALSE(a.egress.evaluated);
  CHECK(a.ingress.evaluated);
  CHECK_FALSE(a.ingress.isolated);
}
