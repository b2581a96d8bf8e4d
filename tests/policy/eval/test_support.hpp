#pragma once
// The upstream NetworkPolicy e2e model: namespaces x, y, z (label ns=<name>), pods a, b, c in each
// (label pod=<name>), each serving TCP 80 (serve-80-tcp), TCP 81 (serve-81-tcp), UDP 80
// (serve-80-udp) and SCTP 80 (serve-80-sctp). Truth tables read like the e2e suite prints them:
// one row per source, one column per destination, '.' connected, 'X' blocked.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "policy/eval/evaluate.hpp"
#include "policy/eval/parse.hpp"

namespace mlnetpol::policy::eval::testing {

inline void add_json(cluster& c, const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), text);
  auto ok = add_object(c, d, "test");
  REQUIRE_MESSAGE(ok.has_value(), (ok ? "" : ok.error().message));
}

inline std::string pod_json(const std::string& ns, const std::string& name,
                            const std::string& extra_labels = "") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":")" + ns + R"(","name":")" +
         name + R"(","labels":{"pod":")" + name + "\"" + extra_labels +
         R"(}},"spec":{"containers":[{"name":"c","ports":[)"
         R"({"name":"serve-80-tcp","containerPort":80},)"
         R"({"name":"serve-81-tcp","containerPort":81,"protocol":"TCP"},)"
         R"({"name":"serve-80-udp","containerPort":80,"protocol":"UDP"},)"
         R"({"name":"serve-80-sctp","containerPort":80,"protocol":"SCTP"}]}]}})";
}

inline cluster xyz(const std::vector<std::string>& policies) {
  cluster c;
  for (const char* ns : {"x", "y", "z"}) {
    add_json(c, std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") + ns +
                    R"(","labels":{"ns":")" + ns + "\"}}}");
    for (const char* p : {"a", "b", "c"}) add_json(c, pod_json(ns, p));
  }
  for (const auto& p : policies) add_json(c, p);
  return c;
}

inline endpoint pod_at(const evaluator& ev, const std::string& ns_pod) {
  const auto slash = ns_pod.find('/');
  const pod* p = ev.find_pod(ns_pod.substr(0, slash), ns_pod.substr(slash + 1));
  REQUIRE_MESSAGE(p != nullptr, ns_pod);
  return ev.pod_endpoint(*p);
}

inline endpoint address(const std::string& ip, const std::string& host = "") {
  endpoint e;
  e.ip = parse_ip(ip);
  REQUIRE_MESSAGE(e.ip.has_value(), ip);
  e.ip_text = ip;
  e.host = host;
  return e;
}

inline answer ask(const cluster& c, const endpoint& from, const endpoint& to, int port,
                  protocol proto = protocol::tcp) {
  evaluator ev(c);
  query q{from, to, port, proto};
  return ev.explain(q);
}

inline answer ask(const cluster& c, const std::string& from, const std::string& to, int port,
                  protocol proto = protocol::tcp) {
  evaluator ev(c);
  query q{pod_at(ev, from), pod_at(ev, to), port, proto};
  return ev.explain(q);
}

inline std::string truth_table(const cluster& c, int port, protocol proto = protocol::tcp) {
  evaluator ev(c);
  std::string out;
  for (const auto& from : c.pods) {
    for (const auto& to : c.pods) {
      query q{ev.pod_endpoint(from), ev.pod_endpoint(to), port, proto};
      const bool fast = ev.allowed(q, ev.selecting(q.from, false), ev.selecting(q.to, true));
      // The explaining path and the fast path must agree on every pair.
      CHECK(fast == ev.explain(q).allowed);
      out += fast ? '.' : 'X';
    }
    out += '\n';
  }
  return out;
}

// A NetworkPolicy in namespace ns with the given spec (JSON).
inline std::string netpol(const std::string& ns, const std::string& name, const std::string& spec) {
  return R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":")" +
         ns + R"(","name":")" + name + R"("},"spec":)" + spec + "}";
}

inline std::string cnp(const std::string& ns, const std::string& name, const std::string& spec) {
  return R"({"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"namespace":")" +
         ns + R"(","name":")" + name + R"("},"spec":)" + spec + "}";
}

inline std::string ccnp(const std::string& name, const std::string& spec) {
  return R"({"apiVersion":"cilium.io/v2","kind":"CiliumClusterwideNetworkPolicy","metadata":{"name":")" +
         name + R"("},"spec":)" + spec + "}";
}

inline const std::string all_connected =
    ".........\n.........\n.........\n.........\n.........\n.........\n.........\n.........\n"
    ".........\n";

}  // namespace mlnetpol::policy::eval::testing
