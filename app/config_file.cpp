// Configuration file loading: YAML (JSON is YAML) -> RapidJSON -> policy::parse_config.
#include "app/config_file.hpp"
#include "policy/render/render.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include "common/files.hpp"
#include "policy/config_parse.hpp"

namespace mlnetpol::app {
namespace {

struct conversion_error {
  std::string path;
  std::string message;
};

using allocator = rapidjson::Document::AllocatorType;

// Plain (unquoted) scalars are typed as YAML 1.2's core schema types them; quoted ones are strings.
rapidjson::Value scalar_to_json(const YAML::Node& node, allocator& alloc) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return rapidjson::Value(text.c_str(), alloc);
  static const std::regex null_re("~|null|Null|NULL|");
  static const std::regex true_re("true|True|TRUE");
  static const std::regex false_re("false|False|FALSE");
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(text, null_re)) return rapidjson::Value(rapidjson::kNullType);
  if (std::regex_match(text, true_re)) return rapidjson::Value(true);
  if (std::regex_match(text, false_re)) return rapidjson::Value(false);
  if (std::regex_match(text, int_re)) {
    errno = 0;
    const long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return rapidjson::Value(static_cast<int64_t>(value));
  }
  if (std::regex_match(text, float_re)) return rapidjson::Value(std::strtod(text.c_str(), nullptr));
  return rapidjson::Value(text.c_str(), alloc);
}

rapidjson::Value to_json(const YAML::Node& node, const std::string& path, allocator& alloc,
                         std::vector<conversion_error>& errors) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return scalar_to_json(node, alloc);
    case YAML::NodeType::Sequence: {
      rapidjson::Value array(rapidjson::kArrayType);
      std::size_t i = 0;
      for (const auto& item : node) {
        array.PushBack(to_json(item, path + "[" + std::to_string(i) + "]", alloc, errors), alloc);
        ++i;
      }
      return array;
    }
    case YAML::NodeType::Map: {
      rapidjson::Value object(rapidjson::kObjectType);
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          errors.push_back({path, "map keys must be strings"});
          continue;
        }
        const std::string& key = entry.first.Scalar();
        const std::string child = path.empty() ? key : path + "." + key;
        if (object.HasMember(key.c_str())) {
          errors.push_back({child, "duplicate key"});
          continue;
        }
        rapidjson::Value value = to_json(entry.second, child, alloc, errors);
        object.AddMember(rapidjson::Value(key.c_str(), alloc), value, alloc);
      }
      return object;
    }
    default:
      return rapidjson::Value(rapidjson::kNullType);
  }
}

std::string located(const std::string& file, const std::string& path, const std::string& what) {
  return file + ": " + (path.empty() ? "" : path + ": ") + what;
}

}  // namespace

result<policy::config> load_config_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  auto text = files::read(path);
  if (!text) return text.error();

  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    // Marks are 0-based; editors count from 1.
    return fail(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }

  rapidjson::Document document;
  std::vector<conversion_error> conversion_errors;
  const rapidjson::Value value = to_json(root, "", document.GetAllocator(), conversion_errors);
  const policy::config_parse_result parsed = policy::parse_config(value);

  std::string errors;
  for (const auto& e : conversion_errors) {
    errors += (errors.empty() ? "" : "\n") + located(name, e.path, e.message);
  }
  for (const auto& e : parsed.errors) {
    errors += (errors.empty() ? "" : "\n") + located(name, e.path, e.message);
  }
  // What parses can still render objects the API server rejects (a bad CIDR, FQDN pattern, ...):
  // refuse it here so serve (start and reload), review and render all agree on what is valid.
  if (errors.empty()) {
    for (const auto& e : policy::validate_render_config(parsed.value)) {
      errors += (errors.empty() ? "" : "\n") + located(name, "", e);
    }
  }
  if (!errors.empty()) return fail(std::move(errors));
  return parsed.value;
}

const char* default_config_yaml() {
  static const std::string text = policy::format_config_yaml(policy::config{});
  return text.c_str();
}

}  // namespace mlnetpol::app
