#pragma once
// The member accessors of RapidJSON values (read-only; member() also in place), header-only so
// the pure policy core can use it: a missing member, a wrong type and a null pointer all read as
// "absent".
#include <optional>
#include <string_view>
#include <utility>

#include <rapidjson/document.h>

namespace mlnetpol::json {

// The member key of an object value (the first of that name), or nullptr when value is no object
// or lacks key.
inline const rapidjson::Value* member(const rapidjson::Value& value, std::string_view key) {
  if (!value.IsObject()) return nullptr;
  const auto it = value.FindMember(rapidjson::Value(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == value.MemberEnd() ? nullptr : &it->value;
}

// member() of a value the caller may change in place (replace, remove from, add to).
inline rapidjson::Value* member(rapidjson::Value& value, std::string_view key) {
  return const_cast<rapidjson::Value*>(member(std::as_const(value), key));
}

// member() of a value that may be null.
inline const rapidjson::Value* json_member(const rapidjson::Value* v, std::string_view key) {
  return v == nullptr ? nullptr : member(*v, key);
}

// "" unless a string.
inline std::string_view json_string(const rapidjson::Value* v) {
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

// The string member key, "" when absent or not a string.
inline std::string_view string_member(const rapidjson::Value& value, std::string_view key) {
  return json_string(member(value, key));
}

// string_member() of a value that may be null.
inline std::string_view string_member(const rapidjson::Value* v, std::string_view key) {
  return json_string(json_member(v, key));
}

// The object member key, or nullptr when absent or not an object.
inline const rapidjson::Value* object_member(const rapidjson::Value& value, std::string_view key) {
  const rapidjson::Value* m = member(value, key);
  return m != nullptr && m->IsObject() ? m : nullptr;
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
