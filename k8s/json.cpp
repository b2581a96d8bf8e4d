#include "k8s/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "common/json_sax.hpp"

namespace mlnetpol::k8s::json {
namespace {

using mlnetpol::json::depth_limited_handler;

constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseStopWhenDoneFlag;

bool only_whitespace(std::string_view rest) {
  for (char c : rest) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

}  // namespace

result<void> parse(rapidjson::Document& document, std::string_view text) {
  document.SetNull();
  if (text.size() >= 0xFFFFFFF0u) return fail("JSON text too large");
  rapidjson::MemoryStream memory(text.data(), text.size());
  depth_limited_handler handler(document, max_depth);
  rapidjson::ParseResult parsed;
  auto generate = [&](rapidjson::Document&) {
    rapidjson::Reader reader;
    parsed = reader.Parse<parse_flags>(memory, handler);
    return !parsed.IsError();
  };
  document.Populate(generate);
  if (parsed.IsError()) {
    document.SetNull();
    if (handler.too_deep()) {
      return fail("JSON nesting deeper than " + std::to_string(max_depth) + " at offset " +
                  std::to_string(parsed.Offset()));
    }
    return fail("invalid JSON at offset " + std::to_string(parsed.Offset()) + ": " +
                rapidjson::GetParseError_En(parsed.Code()));
  }
  // kParseStopWhenDoneFlag stops after the value; a NUL or anything else after it is an error.
  const std::size_t end = memory.Tell();
  if (end > text.size() || !only_whitespace(text.substr(end))) {
    document.SetNull();
    return fail("invalid JSON at offset " + std::to_string(end) + ": text after the value");
  }
  return {};
}

const rapidjson::Value* member(const rapidjson::Value& value, std::string_view key) {
  if (!value.IsObject()) return nullptr;
  const auto it = value.FindMember(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  return it == value.MemberEnd() ? nullptr : &it->value;
}

std::string_view string_member(const rapidjson::Value& value, std::string_view key) {
  const auto* m = member(value, key);
  if (m == nullptr || !m->IsString()) return {};
  return {m->GetString(), m->GetStringLength()};
}

const rapidjson::Value* object_member(const rapidjson::Value& value, std::string_view key) {
  const auto* m = member(value, key);
  return m != nullptr && m->IsObject() ? m : nullptr;
}

}  // namespace mlnetpol::k8s::json
