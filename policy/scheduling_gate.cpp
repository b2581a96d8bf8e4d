#include "policy/scheduling_gate.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json.hpp"
#include "policy/policy_set.hpp"

namespace mlnetpol::policy {
namespace {

using json::json_member;
using json::json_string;
using json::map_value;

void write(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// "/metadata/labels/mlnetpol.io~1gated": the label key's '/' escaped per RFC 6901.
std::string gated_label_pointer() {
  std::string out = "/metadata/labels/";
  for (const char ch : policy_set_gated_label) {
    if (ch == '~') {
      out += "~0";
    } else if (ch == '/') {
      out += "~1";
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

bool needs_scheduling_gate(std::string_view operation, bool secured, enforcement_mode mode,
                           const policy_set_state* state) {
  if (state == nullptr || operation != "CREATE" || !secured) return false;
  if (mode == enforcement_mode::audit) return false;
  return !state->in_place();
}

std::optional<std::size_t> policy_set_gate_index(const rapidjson::Value* spec) {
  const rapidjson::Value* gates = json_member(spec, "schedulingGates");
  if (gates == nullptr || !gates->IsArray()) return std::nullopt;
  for (rapidjson::SizeType i = 0; i < gates->Size(); ++i) {
    if (json_string(json_member(&(*gates)[i], "name")) == policy_set_gate) return i;
  }
  return std::nullopt;
}

std::string gate_release_patch(const rapidjson::Value* spec) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  if (const auto index = policy_set_gate_index(spec)) {
    const std::string path = "/spec/schedulingGates/" + std::to_string(*index);
    w.StartObject();
    w.Key("op");
    w.String("test");
    w.Key("path");
    write(w, path);
    w.Key("value");
    w.StartObject();
    w.Key("name");
    write(w, policy_set_gate);
    w.EndObject();
    w.EndObject();
    w.StartObject();
    w.Key("op");
    w.String("remove");
    w.Key("path");
    write(w, path);
    w.EndObject();
  }
  const std::string label = gated_label_pointer();
  w.StartObject();
  w.Key("op");
  w.String("test");
  w.Key("path");
  write(w, label);
  w.Key("value");
  w.String("true");
  w.EndObject();
  w.StartObject();
  w.Key("op");
  w.String("remove");
  w.Key("path");
  write(w, label);
  w.EndObject();
  w.EndArray();
  return {buffer.GetString(), buffer.GetSize()};
}

std::vector<std::string> gate_changes(const rapidjson::Value* old_object,
                                      const rapidjson::Value* object) {
  std::vector<std::string> out;
  const bool had = policy_set_gate_index(json_member(old_object, "spec")).has_value();
  const bool has = policy_set_gate_index(json_member(object, "spec")).has_value();
  if (had && !has) out.push_back("removes the scheduling gate " + std::string(policy_set_gate));
  const auto before = map_value(json_member(old_object, "metadata"), "labels", policy_set_gated_label);
  const auto after = map_value(json_member(object, "metadata"), "labels", policy_set_gated_label);
  if (before != after) {
    const std::string key(policy_set_gated_label);
    out.push_back(!before ? "adds label " + key
                  : !after ? "removes label " + key
                           : "changes label " + key);
  }
  return out;
}

}  // namespace mlnetpol::policy
