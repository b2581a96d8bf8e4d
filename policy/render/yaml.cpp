#include "policy/render/yaml.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <cctype>

namespace mlnetpol::policy::render {
namespace {

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  const unsigned char first = static_cast<unsigned char>(s.front());
  if (!std::isalpha(first) && first != '_' && first != '/') return true;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '.' && c != '/' && c != '-') return true;
  }
  // Words YAML 1.1 reads as booleans or null.
  static constexpr std::array<std::string_view, 9> words{"y",   "n",    "yes",   "no",  "on",
                                                         "off", "true", "false", "null"};
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto w : words) {
    if (lower == w) return true;
  }
  return false;
}

std::string scalar(const rapidjson::Value& v) {
  if (v.IsString()) {
    const std::string_view s(v.GetString(), v.GetStringLength());
    if (!needs_quotes(s)) return std::string(s);
  }
  if (v.IsObject()) return "{}";
  if (v.IsArray()) return "[]";
  // JSON's quoted strings, numbers, booleans and null are valid YAML flow scalars.
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

bool is_block(const rapidjson::Value& v) {
  return (v.IsObject() && v.MemberCount() > 0) || (v.IsArray() && !v.Empty());
}

void emit_seq(const rapidjson::Value& v, std::size_t indent, std::string& out, bool first_inline);

void emit_map(const rapidjson::Value& v, std::size_t indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& m : v.GetObject()) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    out += scalar(m.name);
    out += ':';
    if (!is_block(m.value)) {
      out += ' ';
      out += scalar(m.value);
      out += '\n';
    } else if (m.value.IsObject()) {
      out += '\n';
      emit_map(m.value, indent + 2, out, false);
    } else {
      out += '\n';
      emit_seq(m.value, indent + 2, out, false);
    }
  }
}

void emit_seq(const rapidjson::Value& v, std::size_t indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& item : v.GetArray()) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    out += "- ";
    if (!is_block(item)) {
      out += scalar(item);
      out += '\n';
    } else if (item.IsObject()) {
      emit_map(item, indent + 2, out, true);
    } else {
      emit_seq(item, indent + 2, out, true);
    }
  }
}

}  // namespace

std::string json_to_yaml(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return {};
  std::string out;
  if (doc.IsObject() && doc.MemberCount() > 0) {
    emit_map(doc, 0, out, false);
  } else if (doc.IsArray() && !doc.Empty()) {
    emit_seq(doc, 0, out, false);
  } else {
    out = scalar(doc) + "\n";
  }
  return out;
}

}  // namespace mlnetpol::policy::render
