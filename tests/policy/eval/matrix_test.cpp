// compute_matrix judges each direction once per distinct set of policies (and the destination's
// named ports) and each group of pods once: its table must equal the verdict explain gives for
// every ordered pair, on the upstream e2e model and on generated clusters.
#include "policy/eval/matrix.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "tests/policy/eval/test_support.hpp"

using namespace mlnetpol::policy::eval;
using namespace mlnetpol::policy::eval::testing;

namespace {

std::vector<endpoint> endpoints_of(const evaluator& ev, const cluster& c) {
  std::vector<endpoint> out;
  for (const auto& p : c.pods) out.push_back(ev.pod_endpoint(p));
  out.push_back(address("52.1.2.3", "bucket.s3.us-east-1.amazonaws.com"));
  out.push_back(address("10.0.0.7"));
  return out;
}

// How many ordered pairs the grouped matrix gets wrong against explain, pair by pair.
int differences(const cluster& c, int port, protocol proto = protocol::tcp) {
  const evaluator ev(c);
  const auto endpoints = endpoints_of(ev, c);
  const matrix m = compute_matrix(ev, endpoints, port, proto);
  REQUIRE(m.names.size() == endpoints.size());
  int wrong = 0;
  for (std::size_t a = 0; a < endpoints.size(); ++a)
    for (std::size_t b = 0; b < endpoints.size(); ++b)
      if (m.at(a, b) != ev.explain({endpoints[a], endpoints[b], port, proto}).allowed) ++wrong;
  return wrong;
}

// A pod whose one named port "http" is `http` (80 or 8080): pods alike but for it share every
// policy and must still be told apart where a rule names the port.
std::string pod_with_port(const std::string& ns, const std::string& name,
                          const std::string& labels, int http) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":")" + ns + R"(","name":")" +
         name + R"(","labels":{)" + labels +
         R"(}},"spec":{"containers":[{"name":"c","ports":[{"name":"http","containerPort":)" +
         std::to_string(http) + "}]}]}}";
}

cluster random_cluster(unsigned seed) {
  std::mt19937 rnd(seed);
  auto pick = [&](int n) { return static_cast<int>(rnd() % static_cast<unsigned>(n)); };
  const std::vector<std::string> apps = {"web", "api", "db"};
  const std::vector<std::string> types = {"training", "inference"};
  cluster c;
  for (int n = 0; n < 4; ++n)
    add_json(c, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns)" +
                    std::to_string(n) + R"(","labels":{"team":"t)" + std::to_string(n % 2) +
                    "\"}}}");
  for (int p = 0; p < 30; ++p) {
    std::string labels = R"("app":")" + apps[pick(3)] + "\"";
    if (pick(2)) labels += R"(,"workload-type":")" + types[pick(2)] + "\"";
    add_json(c, pod_with_port("ns" + std::to_string(pick(4)), "p" + std::to_string(p), labels,
                              pick(2) ? 80 : 8080));
  }
  const std::vector<std::string> selectors = {
      "{}", R"({"matchLabels":{"app":"web"}})", R"({"matchLabels":{"app":"db"}})",
      R"({"matchExpressions":[{"key":"workload-type","operator":"Exists"}]})",
      R"({"matchExpressions":[{"key":"app","operator":"NotIn","values":["api"]}]})"};
  const std::vector<std::string> ports = {
      "", R"(,"ports":[{"port":"http"}])", R"(,"ports":[{"port":80}])",
      R"(,"ports":[{"port":8000,"endPort":8100}])", R"(,"ports":[{"port":80,"protocol":"UDP"}])"};
  for (int i = 0; i < 12; ++i) {
    const std::string ns = "ns" + std::to_string(pick(4));
    const std::string name = "pol" + std::to_string(i);
    const std::string sel = selectors[pick(5)];
    const std::string port = ports[pick(5)];
    const std::string team = R"({"matchLabels":{"team":"t)" + std::to_string(pick(2)) + "\"}}";
    switch (pick(5)) {
      case 0:  // ingress from a namespace selector AND a pod selector
        add_json(c, netpol(ns, name,
                           R"({"podSelector":)" + sel + R"(,"ingress":[{"from":[{"namespaceSelector":)" +
                               team + R"(,"podSelector":)" + selectors[pick(5)] + "}]" + port +
                               "}]}"));
        break;
      case 1:  // egress to pods of the policy's namespace
        add_json(c, netpol(ns, name,
                           R"({"podSelector":)" + sel +
                               R"(,"policyTypes":["Egress"],"egress":[{"to":[{"podSelector":)" +
                               selectors[pick(5)] + "}]" + port + "}]}"));
        break;
      case 2:  // isolation alone
        add_json(c, netpol(ns, name, R"({"podSelector":)" + sel + "}"));
        break;
      case 3:  // Cilium: ingress from endpoints anywhere, with a deny
        add_json(c, cnp(ns, name,
                        R"({"endpointSelector":)" + sel +
                            R"(,"ingress":[{"fromEndpoints":[{"matchLabels":{"io.kubernetes.pod.namespace":"ns)" +
                            std::to_string(pick(4)) +
                            R"("}}]}],"ingressDeny":[{"fromEndpoints":[{"matchLabels":{"app":"api"}}],"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]}]})"));
        break;
      default:  // Cilium egress to the world by name and address
        add_json(c, cnp(ns, name,
                        R"({"endpointSelector":)" + sel +
                            R"(,"egress":[{"toFQDNs":[{"matchPattern":"*.s3.*.amazonaws.com"}]},{"toCIDR":["10.0.0.0/24"]},{"toEndpoints":[{}]}]})"));
        break;
    }
  }
  return c;
}

}  // namespace

TEST_CASE("matrix: grouped verdicts equal explain for every pair of the e2e model") {
  const std::string ya = R"({"matchLabels":{"pod":"a"}})";
  const std::vector<std::vector<std::string>> sets = {
      {},
      {netpol("x", "deny", R"({"podSelector":{}})")},
      {netpol("x", "deny-egress", R"({"podSelector":{},"policyTypes":["Egress"]})"),
       netpol("y", "from-x", R"({"podSelector":)" + ya +
                                  R"(,"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"x"}}}],"ports":[{"port":"serve-81-tcp"}]}]})")},
      {netpol("z", "named", R"({"podSelector":{},"ingress":[{"ports":[{"port":"serve-80-udp","protocol":"UDP"}]}]})"),
       cnp("y", "deny-b", R"({"endpointSelector":{},"ingressDeny":[{"fromEndpoints":[{"matchLabels":{"pod":"b"}}]}],"ingress":[{}]})"),
       ccnp("world", R"({"endpointSelector":{"matchLabels":{"pod":"c"}},"egress":[{"toEntities":["world"]}]})")},
  };
  for (std::size_t i = 0; i < sets.size(); ++i) {
    CAPTURE(i);
    const cluster c = xyz(sets[i]);
    for (int port : {0, 80, 81}) {
      CAPTURE(port);
      CHECK(differences(c, port) == 0);
      CHECK(differences(c, port, protocol::udp) == 0);
    }
  }
}

TEST_CASE("matrix: grouped verdicts equal explain for every pair of generated clusters") {
  for (unsigned seed = 1; seed <= 25; ++seed) {
    CAPTURE(seed);
    const cluster c = random_cluster(seed);
    for (int port : {80, 8080, 8050}) {
      CAPTURE(port);
      CHECK(differences(c, port) == 0);
    }
  }
}

TEST_CASE("matrix: pods alike but for a named port are judged apart") {
  cluster c;
  for (const auto& [name, http] : std::vector<std::pair<std::string, int>>{{"a", 80}, {"b", 8080}})
    add_json(c, pod_with_port("x", name, R"("app":"web")", http));
  add_json(c, netpol("x", "http", R"({"podSelector":{},"ingress":[{"ports":[{"port":"http"}]}]})"));
  const evaluator ev(c);
  const auto m = compute_matrix(ev, {ev.pod_endpoint(c.pods[0]), ev.pod_endpoint(c.pods[1])}, 80,
                                protocol::tcp);
  CHECK(m.at(1, 0));        // b -> a:80 is a's http
  CHECK_FALSE(m.at(0, 1));  // a -> b:80 is not b's http (8080)
  CHECK(differences(c, 80) == 0);
  CHECK(differences(c, 8080) == 0);
}

TEST_CASE("matrix_json: the names as a JSON writer escapes them, matrix[from][to]") {
  matrix m;
  m.port = 443;
  m.names = {"x/a", "we\"ird\\/\n\x01", "ü/ß"};
  m.allowed = {1, 0, 1, 0, 0, 1, 1, 1, 0};
  const std::string text = matrix_json(m);
  REQUIRE(text.back() == '\n');
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["port"].GetInt() == 443);
  CHECK(std::string(d["protocol"].GetString()) == "TCP");
  REQUIRE(d["pods"].Size() == 3);
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    CHECK(std::string(d["pods"][i].GetString(), d["pods"][i].GetStringLength()) == m.names[i]);
    const auto& row = d["matrix"][rapidjson::Value(m.names[i].c_str(), d.GetAllocator())];
    REQUIRE(row.MemberCount() == 3);
    for (std::size_t j = 0; j < 3; ++j)
      CHECK(row[rapidjson::Value(m.names[j].c_str(), d.GetAllocator())].GetBool() == m.at(i, j));
  }
  CHECK(text.find(R"("we\"ird\\/\n\u0001")") != std::string::npos);
}
