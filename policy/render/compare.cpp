#include "policy/render/compare.hpp"

#include <rapidjson/document.h>

namespace mlnetpol::policy {
namespace {

using document = rapidjson::Document;
using value = rapidjson::Value;
using allocator = document::AllocatorType;

// The renderer writes about 8 levels; a spec nested deeper is not ours (and bounds the walk).
constexpr int max_depth = 32;

bool empty_value(const value& v) {
  return v.IsNull() || (v.IsArray() && v.Empty()) || (v.IsObject() && v.ObjectEmpty());
}

// Drops members that are null, [] or {} (after their own members are dropped): the API server
// omits empty lists and the renderer omits what it does not set. False: nested too deep.
bool drop_empty(value& v, int depth) {
  if (depth > max_depth) return false;
  if (v.IsArray()) {
    for (auto& e : v.GetArray())
      if (!drop_empty(e, depth + 1)) return false;
    return true;
  }
  if (!v.IsObject()) return true;
  for (auto it = v.MemberBegin(); it != v.MemberEnd();) {
    if (!drop_empty(it->value, depth + 1)) return false;
    // RemoveMember moves the last member here (unvisited yet): constant time, order is no matter.
    it = empty_value(it->value) ? v.RemoveMember(it) : it + 1;
  }
  return true;
}

// What the API server fills into a NetworkPolicy spec (pkg/apis/networking/v1/defaults.go).
void network_policy_defaults(value& spec, allocator& a) {
  for (const char* direction : {"ingress", "egress"}) {
    const auto rules = spec.FindMember(direction);
    if (rules == spec.MemberEnd() || !rules->value.IsArray()) continue;
    for (auto& rule : rules->value.GetArray()) {
      if (!rule.IsObject()) continue;
      const auto ports = rule.FindMember("ports");
      if (ports == rule.MemberEnd() || !ports->value.IsArray()) continue;
      for (auto& p : ports->value.GetArray()) {
        if (p.IsObject() && !p.HasMember("protocol")) p.AddMember("protocol", "TCP", a);
      }
    }
  }
  if (!spec.HasMember("policyTypes")) {
    value types(rapidjson::kArrayType);
    types.PushBack("Ingress", a);
    if (spec.HasMember("egress")) types.PushBack("Egress", a);
    spec.AddMember("policyTypes", types, a);
  }
}

// The spec as compared; false when it is no object or nested too deep.
bool normalized(value& spec, allocator& a, bool network_policy) {
  if (!spec.IsObject() || !drop_empty(spec, 0)) return false;
  if (network_policy) network_policy_defaults(spec, a);
  return true;
}

}  // namespace

bool same_spec(const rendered_object& desired, std::string_view live_spec) {
  document rendered;
  rendered.Parse(desired.json.data(), desired.json.size());
  if (rendered.HasParseError() || !rendered.IsObject()) return false;
  const auto want = rendered.FindMember("spec");
  if (want == rendered.MemberEnd()) return false;

  document live;
  live.Parse<rapidjson::kParseIterativeFlag>(live_spec.data(), live_spec.size());
  if (live.HasParseError()) return false;

  const bool network_policy = desired.kind == "NetworkPolicy";
  if (!normalized(want->value, rendered.GetAllocator(), network_policy) ||
      !normalized(live, live.GetAllocator(), network_policy)) {
    return false;
  }
  // Both are at most max_depth deep now; member order does not matter to ==.
  return want->value == live;
}

}  // namespace mlnetpol::policy
