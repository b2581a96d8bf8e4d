// Configuration file loading: YAML (JSON is YAML) -> RapidJSON -> policy::parse_config.
#include "app/config_file.hpp"
#include "policy/render/render.hpp"

#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include "app/yaml_json.hpp"
#include "common/files.hpp"
#include "common/yaml_depth.hpp"
#include "policy/config_parse.hpp"

namespace mlnetpol::app {
namespace {

std::string located(const std::string& file, const std::string& path, const std::string& what) {
  return file + ": " + (path.empty() ? "" : path + ": ") + what;
}

}  // namespace

result<policy::config> load_config_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  auto text = files::read(path);
  if (!text) return text.error();

  // yaml-cpp recurses per nesting level: deep text is refused before it parses.
  if (auto bounded = yaml::check_yaml_depth(*text); !bounded) {
    return fail(name + ": " + bounded.error().message);
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    // Marks are 0-based; editors count from 1.
    return fail(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }

  // An emptied file (a truncated write, a ConfigMap key gone) parses as no document at all: taken
  // as the defaults it would unsecure every namespace the last good file named.
  if (root.IsNull())
    return fail(name +
                ": no configuration (the file is empty or holds only whitespace and comments); "
                "write {} to mean every default");

  rapidjson::Document document;
  std::vector<yaml_conversion_error> conversion_errors;
  std::size_t budget = yaml_expansion_budget(text->size());
  const rapidjson::Value value =
      yaml_to_json(root, document.GetAllocator(), conversion_errors, budget);
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
