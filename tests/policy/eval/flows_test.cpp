// parse_flow_line reads a Hubble line in one streaming pass. It must read what a parsed document
// reads (the first occurrence of a member; a member of the wrong type is absent) and skip the
// same lines: checked against a document-based reading of the fixture lines and of many damaged
// copies of them.
#include "policy/eval/flows.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "common/json.hpp"

using namespace mlnetpol::policy::eval;
using mlnetpol::json::json_member;
using mlnetpol::json::json_string;

namespace {

// The reference: the line parsed into a RapidJSON document and the fields looked up in it.
void document_end(const rapidjson::Value* endpoint, const rapidjson::Value* ip,
                  const rapidjson::Value* names, const rapidjson::Value* service, flow_end& out) {
  out.namespace_name = json_string(json_member(endpoint, "namespace"));
  out.pod_name = json_string(json_member(endpoint, "pod_name"));
  out.ip = json_string(ip);
  if (names != nullptr && names->IsArray() && !names->Empty()) {
    out.name = json_string(&(*names)[0]);
    if (!out.name.empty() && out.name.back() == '.') out.name.pop_back();
  }
  out.service_name = json_string(json_member(service, "name"));
  out.service_namespace = json_string(json_member(service, "namespace"));
  const rapidjson::Value* labels = json_member(endpoint, "labels");
  if (labels == nullptr || !labels->IsArray()) return;
  for (const auto& l : labels->GetArray()) {
    const std::string s(json_string(&l));
    if (s.rfind("reserved:", 0) == 0) {
      if (out.reserved.empty()) out.reserved = s.substr(9);
      continue;
    }
    if (s.rfind("k8s:", 0) != 0) continue;
    const std::string kv = s.substr(4);
    const auto eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key.rfind("io.cilium.k8s.namespace.labels.", 0) == 0)
      out.namespace_labels[key.substr(31)] = val;
    else if (key != "io.kubernetes.pod.namespace" && key.rfind("io.cilium.k8s.", 0) != 0)
      out.labels[key] = val;
  }
}

flow_skip document_read(const std::string& line, flow& out) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject()) return flow_skip::malformed;
  const rapidjson::Value* f = json_member(&d, "flow");
  if (f == nullptr || !f->IsObject()) return flow_skip::not_a_flow;
  for (const char* name : {"is_reply", "reply"}) {
    const rapidjson::Value* v = json_member(f, name);
    if (v != nullptr && v->IsBool() && v->GetBool()) return flow_skip::reply;
  }
  if (json_string(json_member(f, "Type")) == "L7") return flow_skip::l7;
  const rapidjson::Value* l4 = json_member(f, "l4");
  const rapidjson::Value* port = nullptr;
  for (auto [name, proto] : {std::pair{"TCP", protocol::tcp}, std::pair{"UDP", protocol::udp},
                             std::pair{"SCTP", protocol::sctp}}) {
    if (const rapidjson::Value* p = json_member(l4, name)) {
      port = json_member(p, "destination_port");
      out.proto = proto;
    }
  }
  if (port == nullptr || !port->IsInt()) return flow_skip::no_port;
  out.port = port->GetInt();
  const rapidjson::Value* ip = json_member(f, "IP");
  document_end(json_member(f, "source"), json_member(ip, "source"), json_member(f, "source_names"),
               json_member(f, "source_service"), out.from);
  document_end(json_member(f, "destination"), json_member(ip, "destination"),
               json_member(f, "destination_names"), json_member(f, "destination_service"), out.to);
  return flow_skip::none;
}

bool same_end(const flow_end& a, const flow_end& b) {
  return a.namespace_name == b.namespace_name && a.pod_name == b.pod_name &&
         a.labels == b.labels && a.namespace_labels == b.namespace_labels &&
         a.reserved == b.reserved && a.ip == b.ip && a.name == b.name &&
         a.service_name == b.service_name && a.service_namespace == b.service_namespace;
}

// Whether the streaming reader and the document agree on `line`.
bool agrees(const std::string& line) {
  flow streamed, documented;
  const flow_skip s = parse_flow_line(line, streamed);
  const flow_skip d = document_read(line, documented);
  if (s != d) return false;
  if (s != flow_skip::none) return true;
  return streamed.port == documented.port && streamed.proto == documented.proto &&
         same_end(streamed.from, documented.from) && same_end(streamed.to, documented.to);
}

std::vector<std::string> fixture_lines() {
  std::vector<std::string> out;
  for (const char* file : {"sample1-hubble-otel-gke-l3l4.jsonl", "sample2-hubble-otel-dns-l7.jsonl",
                           "sample3-hubble-otel-icmpv4-reserved.jsonl",
                           "sample4-cilium-docs-exporter-dropped.jsonl", "generated-ml.jsonl"}) {
    std::ifstream in(std::string(MLNETPOL_FIXTURES_DIR) + "/hubble/" + file);
    REQUIRE_MESSAGE(in, file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
  }
  return out;
}

const std::vector<std::string> edge_lines = {
    // The last of TCP, UDP, SCTP present decides, whatever its type.
    R"({"flow":{"l4":{"UDP":{"destination_port":53},"TCP":{"destination_port":80}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80},"UDP":5}}})",
    R"({"flow":{"l4":{"SCTP":[],"TCP":{"destination_port":80}}}})",
    // Ports only as ints.
    R"({"flow":{"l4":{"TCP":{"destination_port":80.0}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":"80"}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":-3}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":2147483647}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":2147483648}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":-2147483649}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":18446744073709551615}}}})",
    // First occurrences.
    R"({"flow":{"l4":{"TCP":{"destination_port":80,"destination_port":81}},"l4":{"UDP":{"destination_port":1}}}})",
    R"({"flow":5,"flow":{"l4":{"TCP":{"destination_port":80}}}})",
    R"({"flow":{"Type":"L3_L4","Type":"L7","l4":{"TCP":{"destination_port":80}}}})",
    R"({"flow":{"Type":7,"Type":"L7","l4":{"TCP":{"destination_port":80}}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}},"source":{"namespace":"a","namespace":"b","pod_name":"q","labels":["k8s:a=1"],"labels":["k8s:b=2"]},"source":{"namespace":"zz"},"destination":[1,2],"destination_names":[5,"x.com."],"source_names":["a.b.","c"],"destination_service":{"name":"s","namespace":"n"},"IP":{"source":1,"destination":"::1","destination":"::2"}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}},"destination":{"labels":[["k8s:a=1"],{"k":"v"},null,"k8s:x","reserved:world","reserved:host","k8s:io.cilium.k8s.namespace.labels.team=t","k8s:io.cilium.k8s.policy.cluster=c","k8s:io.kubernetes.pod.namespace=n"]}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}},"source":{"labels":"k8s:a=b"}}})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}},"source":{"labels":["k8s:app=\u0041\n\"q\""]}}})",
    // Replies and L7.
    R"({"flow":{"is_reply":true,"l4":{"TCP":{"destination_port":80}}}})",
    R"({"flow":{"is_reply":false,"reply":true}})",
    R"({"flow":{"is_reply":"true","l4":{"TCP":{"destination_port":80}}}})",
    R"({"flow":{"Type":"L7"}})",
    // Not flows, not JSON.
    R"({"node_status":{}})", "[]", "5", "\"x\"", "null", "{}", R"({"flow":null})",
    R"({"flow":[]})", R"({"flow":{}} x)", R"({"flow":{}}  )", "{\"flow\":{}}\t",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}}},"extra":[1,2,}]})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}}},"extra":NaN})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}}},"extra":1e999})",
    R"({"flow":{"l4":{"TCP":{"destination_port":80}}},"x":{"a":[[[{"b":[]}]]]}})",
    "",
};

}  // namespace

TEST_CASE("parse_flow_line: reads what a parsed document reads on the fixture lines") {
  const auto lines = fixture_lines();
  REQUIRE(lines.size() > 10);
  for (const auto& line : lines) CHECK_MESSAGE(agrees(line), line);
  flow f;
  REQUIRE(parse_flow_line(lines[1], f) == flow_skip::none);  // sample1, line 2
  CHECK(f.port == 15090);
  CHECK(f.from.namespace_name == "istio-system");
  CHECK(f.to.namespace_name == "bookinfo");
  CHECK(f.to.labels.at("app") == "reviews");
}

TEST_CASE("parse_flow_line: edge cases read and skip as a parsed document") {
  for (const auto& line : edge_lines) CHECK_MESSAGE(agrees(line), line);
  flow f;
  CHECK(parse_flow_line(edge_lines[0], f) == flow_skip::none);
  CHECK(f.proto == protocol::udp);  // looked up after TCP, whatever the order in the line
  CHECK(f.port == 53);
  flow g;
  CHECK(parse_flow_line(edge_lines[14], g) == flow_skip::none);
  CHECK(g.from.namespace_name == "a");
  CHECK(g.from.labels == label_map{{"a", "1"}});
  CHECK(g.from.name == "a.b");
  CHECK(g.to.name.empty());
  CHECK(g.to.ip == "::1");
  CHECK(g.from.ip.empty());
  flow h;
  CHECK(parse_flow_line(R"({"flow":{"l4":{"TCP":{"destination_port":80}}}} x)", h) ==
        flow_skip::malformed);
}

TEST_CASE("parse_flow_line: damaged lines skip exactly as a parsed document") {
  std::mt19937 rnd(26);
  const auto lines = fixture_lines();
  const std::string noise = "{}[],:\"\\0x -1e";
  int disagreements = 0;
  for (const auto& line : lines) {
    for (int i = 0; i < 200; ++i) {
      std::string damaged = line;
      const std::size_t at = rnd() % damaged.size();
      switch (rnd() % 4) {
        case 0:
          damaged.resize(at);
          break;
        case 1:
          damaged.erase(at, 1 + rnd() % 8);
          break;
        case 2:
          damaged.insert(at, 1, noise[rnd() % noise.size()]);
          break;
        default:
          damaged.insert(at, damaged.substr(at, rnd() % 40));
          break;
      }
      if (!agrees(damaged)) {
        ++disagreements;
        MESSAGE(damaged);
      }
    }
  }
  CHECK(disagreements == 0);
}

TEST_CASE("parse_flow_line: deep nesting costs heap, not stack") {
  const std::size_t depth = 200000;
  std::string line;
  for (std::size_t i = 0; i < depth; ++i) line += "{\"a\":";
  line += "1";
  line += std::string(depth, '}');
  flow f;
  CHECK(parse_flow_line(line, f) == flow_skip::not_a_flow);
  CHECK(parse_flow_line(std::string(depth, '['), f) == flow_skip::malformed);
}
