// Manifests into JSON documents: yaml-cpp for YAML (a JSON file is YAML too, but RapidJSON reads
// JSON exactly and faster, so JSON-looking text takes that path).
#include "app/manifest_documents.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "common/files.hpp"

namespace mlnetpol::app {
namespace {

using allocator = rapidjson::Document::AllocatorType;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// YAML 1.2 core schema float: [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_core_float(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  const std::size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exponent = s.substr(e + 1);
    if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) exponent.remove_prefix(1);
    if (!all_digits(exponent)) return false;
  }
  const std::size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return all_digits(mantissa);
  const std::string_view whole = mantissa.substr(0, dot), fraction = mantissa.substr(dot + 1);
  if (whole.empty()) return all_digits(fraction);
  return all_digits(whole) && (fraction.empty() || all_digits(fraction));
}

rapidjson::Value scalar_to_json(const YAML::Node& node, allocator& alloc) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return rapidjson::Value(text.c_str(), alloc);  // quoted: a string
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return rapidjson::Value(rapidjson::kNullType);
  }
  if (text == "true" || text == "True" || text == "TRUE") return rapidjson::Value(true);
  if (text == "false" || text == "False" || text == "FALSE") return rapidjson::Value(false);
  const std::string_view digits =
      text[0] == '-' || text[0] == '+' ? std::string_view(text).substr(1) : std::string_view(text);
  if (all_digits(digits)) {
    errno = 0;
    const long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return rapidjson::Value(static_cast<int64_t>(value));
  }
  if (is_core_float(text)) return rapidjson::Value(std::strtod(text.c_str(), nullptr));
  return rapidjson::Value(text.c_str(), alloc);
}

result<rapidjson::Value> to_json(const YAML::Node& node, allocator& alloc) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return scalar_to_json(node, alloc);
    case YAML::NodeType::Sequence: {
      rapidjson::Value array(rapidjson::kArrayType);
      for (const auto& item : node) {
        auto value = to_json(item, alloc);
        if (!value) return value.error();
        array.PushBack(*value, alloc);
      }
      return array;
    }
    case YAML::NodeType::Map: {
      rapidjson::Value object(rapidjson::kObjectType);
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return fail("line " + std::to_string(entry.first.Mark().line + 1) +
                      ": map keys must be strings");
        }
        const std::string& key = entry.first.Scalar();
        if (object.HasMember(key.c_str())) {
          return fail("line " + std::to_string(entry.first.Mark().line + 1) + ": duplicate key \"" +
                      key + "\"");
        }
        auto value = to_json(entry.second, alloc);
        if (!value) return value.error();
        object.AddMember(rapidjson::Value(key.c_str(), alloc), *value, alloc);
      }
      return object;
    }
    default:
      return rapidjson::Value(rapidjson::kNullType);
  }
}

bool looks_like_json(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

std::string_view string_member(const rapidjson::Value& v, const char* name) {
  const auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

result<std::vector<rapidjson::Document>> parse_documents(std::string_view text,
                                                         const std::string& source) {
  std::vector<rapidjson::Document> out;
  if (looks_like_json(text)) {
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    if (!d.HasParseError()) {
      out.push_back(std::move(d));
      return out;
    }
    // Not one JSON value (e.g. JSON documents separated by ---): YAML reads it.
  }
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    rapidjson::Document d;
    auto value = to_json(nodes[i], d.GetAllocator());
    if (!value)
      return fail(source + ": document " + std::to_string(i + 1) + ": " + value.error().message);
    static_cast<rapidjson::Value&>(d) = std::move(*value);
    out.push_back(std::move(d));
  }
  return out;
}

result<std::vector<manifest_object>> manifest_objects(std::string_view text,
                                                      const std::string& source) {
  auto documents = parse_documents(text, source);
  if (!documents) return documents.error();
  std::vector<manifest_object> out;
  std::size_t number = 0;
  for (auto& parsed : *documents) {
    ++number;
    if (parsed.IsNull()) continue;  // an empty document (a trailing ---, a comment-only file)
    auto document = std::make_shared<rapidjson::Document>(std::move(parsed));
    const std::string where = source + "#" + std::to_string(number);
    auto check = [&](const rapidjson::Value& v, const std::string& at) -> result<void> {
      if (!v.IsObject())
        return fail(at + ": not a Kubernetes object (a map with apiVersion and kind)");
      if (string_member(v, "apiVersion").empty() || string_member(v, "kind").empty()) {
        return fail(at + ": not a Kubernetes object: apiVersion and kind are required");
      }
      return {};
    };
    if (auto ok = check(*document, where); !ok) return ok.error();
    const std::string_view kind = string_member(*document, "kind");
    const auto items = document->FindMember("items");
    if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" &&
        items != document->MemberEnd()) {
      if (!items->value.IsArray())
        return fail(where + ": " + std::string(kind) + ".items is not a list");
      std::size_t i = 0;
      for (const auto& item : items->value.GetArray()) {
        const std::string at = where + ".items[" + std::to_string(i++) + "]";
        if (auto ok = check(item, at); !ok) return ok.error();
        out.push_back({at, document, &item});
      }
      continue;
    }
    out.push_back({where, document, document.get()});
  }
  return out;
}

result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (input == "-" || !fs::is_directory(input, ec)) {
      out.push_back(input);  // a file that is missing fails when it is read, with its reason
      continue;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file(ec) && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        found.push_back(it->path().string());
      }
    }
    if (ec) return fail(input + ": cannot list: " + ec.message());
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

result<std::string> read_input(const std::string& input) {
  if (input != "-") return files::read(input);
  std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
  if (std::cin.bad()) return fail("stdin: cannot read");
  return text;
}

}  // namespace mlnetpol::app
