// Configuration file loading: YAML (JSON is YAML) -> RapidJSON -> policy::parse_config.
#include "app/config_file.hpp"
#include "policy/render/render.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>
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

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The number of leading decimal digits of s from position i on.
std::size_t digits_at(std::string_view s, std::size_t i) {
  std::size_t n = 0;
  while (i + n < s.size() && is_digit(s[i + n])) ++n;
  return n;
}

std::size_t sign_at(std::string_view s, std::size_t i) {
  return i < s.size() && (s[i] == '-' || s[i] == '+') ? 1 : 0;
}

// [-+]?[0-9]+ scanned in one pass (std::regex recursed per character: a long scalar overflowed
// the stack).
bool is_core_int(std::string_view s) {
  const std::size_t sign = sign_at(s, 0);
  const std::size_t digits = digits_at(s, sign);
  return digits > 0 && sign + digits == s.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, in one pass.
bool is_core_float(std::string_view s) {
  std::size_t i = sign_at(s, 0);
  const std::size_t whole = digits_at(s, i);
  i += whole;
  if (i < s.size() && s[i] == '.') {
    const std::size_t fraction = digits_at(s, i + 1);
    if (whole == 0 && fraction == 0) return false;
    i += 1 + fraction;
  } else if (whole == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    i += 1 + sign_at(s, i + 1);
    const std::size_t exponent = digits_at(s, i);
    if (exponent == 0) return false;
    i += exponent;
  }
  return i == s.size();
}

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), s) != words.end();
}

// Plain (unquoted) scalars are typed as YAML 1.2's core schema types them; quoted ones are strings.
rapidjson::Value scalar_to_json(const YAML::Node& node, allocator& alloc) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return rapidjson::Value(text.c_str(), alloc);
  if (is_one_of(text, {"~", "null", "Null", "NULL", ""})) {
    return rapidjson::Value(rapidjson::kNullType);
  }
  if (is_one_of(text, {"true", "True", "TRUE"})) return rapidjson::Value(true);
  if (is_one_of(text, {"false", "False", "FALSE"})) return rapidjson::Value(false);
  if (is_core_int(text)) {
    errno = 0;
    const long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return rapidjson::Value(static_cast<int64_t>(value));
  }
  if (is_core_float(text)) return rapidjson::Value(std::strtod(text.c_str(), nullptr));
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
      // HasMember is a linear search: a set keeps a map of n keys at n log n.
      std::set<std::string, std::less<>> seen;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          errors.push_back({path, "map keys must be strings"});
          continue;
        }
        const std::string& key = entry.first.Scalar();
        const std::string child = path.empty() ? key : path + "." + key;
        // Keys as RapidJSON stores them (up to a NUL), as HasMember compared them.
        if (!seen.emplace(key.c_str()).second) {
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

  // An emptied file (a truncated write, a ConfigMap key gone) parses as no document at all: taken
  // as the defaults it would unsecure every namespace the last good file named.
  if (root.IsNull())
    return fail(name +
                ": no configuration (the file is empty or holds only whitespace and comments); "
                "write {} to mean every default");

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
