#include "admission/json_patch_apply.hpp"

#include <string>

#include <rapidjson/pointer.h>

namespace mlnetpol::admission {

result<void> apply_patch(rapidjson::Value& target, std::string_view patch_text,
                         rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Document patch;
  patch.Parse(patch_text.data(), patch_text.size());
  if (patch.HasParseError() || !patch.IsArray()) return fail("the patch is not a JSON array");
  for (const auto& op : patch.GetArray()) {
    if (!op.IsObject() || !op.HasMember("op") || !op["op"].IsString() || !op.HasMember("path") ||
        !op["path"].IsString()) {
      return fail("a patch operation lacks op or path");
    }
    const std::string name = op["op"].GetString();
    const std::string path = op["path"].GetString();
    const rapidjson::Pointer pointer(path.c_str());
    if (!pointer.IsValid()) return fail("invalid JSON pointer " + path);
    const std::size_t slash = path.rfind('/');
    const rapidjson::Pointer parent(path.substr(0, slash).c_str());
    rapidjson::Value* at = pointer.Get(target);
    if (name == "add" || name == "replace") {
      if (!op.HasMember("value")) return fail(name + " " + path + " has no value");
      const rapidjson::Value* holder = parent.Get(target);
      if (holder == nullptr || !holder->IsObject())
        return fail(name + " " + path + ": no parent object");
      if (name == "replace" && at == nullptr) return fail("replace " + path + ": no such member");
      pointer.Set(target, rapidjson::Value(op["value"], alloc), alloc);
    } else if (name == "remove") {
      if (!pointer.Erase(target)) return fail("remove " + path + ": no such member");
    } else if (name == "test") {
      if (at == nullptr || !op.HasMember("value") || *at != op["value"]) {
        return fail("test " + path + " failed");
      }
    } else {
      return fail("unsupported patch operation " + name);
    }
  }
  return {};
}

}  // namespace mlnetpol::admission
