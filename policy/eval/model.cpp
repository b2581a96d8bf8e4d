#include "policy/eval/model.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace mlnetpol::policy::eval {

std::string_view to_string(protocol p) {
  switch (p) {
    case protocol::tcp:
      return "TCP";
    case protocol::udp:
      return "UDP";
    case protocol::sctp:
      return "SCTP";
    case protocol::any:
      return "ANY";
  }
  return "TCP";
}

std::optional<protocol> parse_protocol_name(std::string_view name) {
  if (name == "TCP") return protocol::tcp;
  if (name == "UDP") return protocol::udp;
  if (name == "SCTP") return protocol::sctp;
  return std::nullopt;
}

std::string_view to_string(policy_kind k) {
  switch (k) {
    case policy_kind::network_policy:
      return "NetworkPolicy";
    case policy_kind::cilium:
      return "CiliumNetworkPolicy";
    case policy_kind::cilium_clusterwide:
      return "CiliumClusterwideNetworkPolicy";
  }
  return "NetworkPolicy";
}

std::optional<ip_address> parse_ip(std::string_view text) {
  // inet_pton is a pure conversion (no socket); it needs a terminated string of bounded size.
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  ip_address a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

std::optional<cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto base = parse_ip(text.substr(0, slash));
  const std::string_view bits = text.substr(slash + 1);
  if (!base || bits.empty() || bits.size() > 3) return std::nullopt;
  int prefix = 0;
  for (char c : bits) {
    if (c < '0' || c > '9') return std::nullopt;
    prefix = prefix * 10 + (c - '0');
  }
  if (prefix > (base->v6 ? 128 : 32)) return std::nullopt;
  return cidr{*base, prefix, std::string(text)};
}

bool cidr::contains(const ip_address& a) const {
  if (a.v6 != base.v6) return false;
  int bits = prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
  }
  return true;
}

namespace {

std::string values_text(const std::vector<std::string>& values) {
  std::string out = "(";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  return out + ")";
}

std::string requirement_text(const requirement& r) {
  switch (r.operation) {
    case requirement::op::in:
      return r.values.size() == 1 ? r.key + "=" + r.values[0]
                                  : r.key + " in " + values_text(r.values);
    case requirement::op::not_in:
      return r.key + " notin " + values_text(r.values);
    case requirement::op::exists:
      return r.key;
    case requirement::op::does_not_exist:
      return "!" + r.key;
  }
  return r.key;
}

bool requirement_matches(const requirement& r, const label_map& labels) {
  const auto it = labels.find(r.key);
  const bool has = it != labels.end();
  const auto listed = [&] {
    return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
  };
  switch (r.operation) {
    case requirement::op::in:
      return listed();
    case requirement::op::not_in:
      return !listed();
    case requirement::op::exists:
      return has;
    case requirement::op::does_not_exist:
      return !has;
  }
  return false;
}

}  // namespace

bool selector::matches(const label_map& labels) const {
  return std::all_of(requirements.begin(), requirements.end(),
                     [&](const requirement& r) { return requirement_matches(r, labels); });
}

std::string selector::mismatch(const label_map& labels) const {
  std::string out;
  for (const auto& r : requirements) {
    if (requirement_matches(r, labels)) continue;
    const auto it = labels.find(r.key);
    std::string what = "needs " + requirement_text(r);
    what += it == labels.end() ? " (no label " + r.key + ")"
                               : " (has " + r.key + "=" + it->second + ")";
    out += (out.empty() ? "" : "; ") + what;
  }
  return out;
}

std::string selector::text() const {
  if (requirements.empty()) return "{}";
  std::string out;
  for (const auto& r : requirements) out += (out.empty() ? "" : ",") + requirement_text(r);
  return out;
}

std::string port_rule::text() const {
  std::string out = std::string(to_string(proto));
  if (!named.empty()) return out + "/" + named;
  if (port == 0) return out + "/*";
  out += "/" + std::to_string(port);
  if (end_port > port) out += "-" + std::to_string(end_port);
  return out;
}

label_map cilium_labels(const pod& p, const label_map* namespace_labels) {
  label_map out = p.labels;
  out.emplace(std::string(cilium_namespace_key), p.namespace_name);
  if (namespace_labels != nullptr) {
    for (const auto& [k, v] : *namespace_labels) {
      out.emplace(std::string(cilium_namespace_label_prefix) + k, v);
    }
  }
  return out;
}

}  // namespace mlnetpol::policy::eval
