#pragma once
// Read-only access to RapidJSON values, header-only so the pure policy core can use it: a missing
// member, a wrong type and a null pointer all read as "absent".
#include <optional>
#include <string_view>

#include <rapidjson/document.h>

namespace mlnetpol::json {

inline const rapidjson::Value* json_member(const rapidjson::Value* v, std::string_view key) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  const auto it = v->FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
  return it == v->MemberEnd() ? nullptr : &it->value;
}

// "" unless a string.
inline std::string_view json_string(const rapidjson::Value* v) {
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

// A string-valued entry of metadata.<map_name>; nullopt when absent or not a string.
inline std::optional<std::string_view> map_value(const rapidjson::Value* metadata,
                                                 std::string_view map_name, std::string_view key) {
  const rapidjson::Value* value = json_member(json_member(metadata, map_name), key);
  if (value == nullptr || !value->IsString()) return std::nullopt;
  return std::string_view{value->GetString(), value->GetStringLength()};
}

// The first string value of metadata.labels[key] of an object (a member of that name whose value
// is not a string is passed over); nullopt when there is none.
inline std::optional<std::string_view> string_label(const rapidjson::Value* object,
                                                    std::string_view key) {
  const rapidjson::Value* labels = json_member(json_member(object, "metadata"), "labels");
  if (labels == nullptr || !labels->IsObject()) return std::nullopt;
  for (const auto& m : labels->GetObject()) {
    if (m.value.IsString() && std::string_view(m.name.GetString(), m.name.GetStringLength()) == key)
      return std::string_view(m.value.GetString(), m.value.GetStringLength());
  }
  return std::nullopt;
}

}  // namespace mlnetpol::json
