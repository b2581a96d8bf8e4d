// Manifests into JSON documents: yaml-cpp for YAML (a JSON file is YAML too, but RapidJSON reads
// JSON exactly and faster, so JSON-looking text takes that path).
#include "app/manifest_documents.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "app/yaml_json.hpp"
#include "common/files.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "common/yaml_depth.hpp"

namespace mlnetpol::app {
namespace {

bool looks_like_json(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

}  // namespace

result<std::vector<rapidjson::Document>> parse_documents(std::string_view text,
                                                         const std::string& source) {
  std::vector<rapidjson::Document> out;
  if (looks_like_json(text)) {
    rapidjson::Document d;
    if (json::parse(d, text)) {
      out.push_back(std::move(d));
      return out;
    }
    // Not one JSON value (e.g. JSON documents separated by ---): YAML reads it.
  }
  // yaml-cpp recurses per nesting level: deep text is refused before it parses.
  if (auto bounded = yaml::check_yaml_depth(text); !bounded) {
    return fail(source + ": " + bounded.error().message);
  }
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  // One budget for all documents: a file of many small bombs is no bigger than one.
  std::size_t budget = yaml_expansion_budget(text.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    rapidjson::Document d;
    std::vector<yaml_conversion_error> errors;
    rapidjson::Value value = yaml_to_json(nodes[i], d.GetAllocator(), errors, budget);
    if (!errors.empty()) {
      const auto& e = errors.front();
      return fail(source + ": document " + std::to_string(i + 1) + ": line " +
                  std::to_string(e.line) + ": " + e.message +
                  (e.key.empty() ? "" : " \"" + e.key + "\""));
    }
    static_cast<rapidjson::Value&>(d) = std::move(value);
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
      if (json::string_member(v, "apiVersion").empty() || json::string_member(v, "kind").empty()) {
        return fail(at + ": not a Kubernetes object: apiVersion and kind are required");
      }
      return {};
    };
    if (auto ok = check(*document, where); !ok) return ok.error();
    const std::string_view kind = json::string_member(*document, "kind");
    const rapidjson::Value* items = json::member(*document, "items");
    if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" && items != nullptr) {
      if (!items->IsArray()) return fail(where + ": " + std::string(kind) + ".items is not a list");
      std::size_t i = 0;
      for (const auto& item : items->GetArray()) {
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
