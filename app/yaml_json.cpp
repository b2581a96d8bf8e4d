#include "app/yaml_json.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <set>
#include <string_view>

namespace mlnetpol::app {
namespace {

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

rapidjson::Value scalar_to_json(const YAML::Node& node, allocator& alloc) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return rapidjson::Value(text.c_str(), alloc);  // quoted: a string
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

}  // namespace

rapidjson::Value yaml_to_json(const YAML::Node& node, allocator& alloc,
                              std::vector<yaml_conversion_error>& errors) {
  // The path is built only for what a message needs: children inherit it by value.
  struct walker {
    allocator& alloc;
    std::vector<yaml_conversion_error>& errors;
    rapidjson::Value operator()(const YAML::Node& n, const std::string& path) {
      switch (n.Type()) {
        case YAML::NodeType::Scalar:
          return scalar_to_json(n, alloc);
        case YAML::NodeType::Sequence: {
          rapidjson::Value array(rapidjson::kArrayType);
          std::size_t i = 0;
          for (const auto& item : n) {
            array.PushBack((*this)(item, path + "[" + std::to_string(i++) + "]"), alloc);
          }
          return array;
        }
        case YAML::NodeType::Map: {
          rapidjson::Value object(rapidjson::kObjectType);
          // HasMember is a linear search: a set keeps a map of n keys at n log n.
          std::set<std::string, std::less<>> seen;
          for (const auto& entry : n) {
            const int line = entry.first.Mark().line + 1;
            if (!entry.first.IsScalar()) {
              errors.push_back({path, line, "", "map keys must be strings"});
              continue;
            }
            const std::string& key = entry.first.Scalar();
            const std::string child = path.empty() ? key : path + "." + key;
            // Keys as RapidJSON stores them (up to a NUL), as HasMember compared them.
            if (!seen.emplace(key.c_str()).second) {
              errors.push_back({child, line, key, "duplicate key"});
              continue;
            }
            rapidjson::Value value = (*this)(entry.second, child);
            object.AddMember(rapidjson::Value(key.c_str(), alloc), value, alloc);
          }
          return object;
        }
        default:
          return rapidjson::Value(rapidjson::kNullType);
      }
    }
  };
  return walker{alloc, errors}(node, "");
}

}  // namespace mlnetpol::app
