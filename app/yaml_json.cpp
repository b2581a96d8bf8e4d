#include "app/yaml_json.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_parse.hpp"

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

// Where a value sits, kept on the stack while it is converted: a path is spelled out only for an
// error (building one per value cost depth times key length each).
struct segment {
  const segment* parent;
  std::string_view key;  // a map's key; unused for an item
  std::size_t index;     // an item's position; unused for a key
  bool item;
};

// "a.b[2].c"; keys longer than 64 bytes are cut, and a path of more than 12 steps keeps its first
// and last 6 (an alias cycle's runs 256 deep).
std::string path_of(const segment* at) {
  std::vector<const segment*> chain;
  for (; at != nullptr; at = at->parent) chain.push_back(at);
  constexpr std::size_t kept = 6;
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const auto step = static_cast<std::size_t>(it - chain.rbegin());
    if (chain.size() > 2 * kept && step >= kept && step < chain.size() - kept) {
      if (step == kept) out += "...";
      continue;
    }
    const segment& s = **it;
    if (s.item) {
      out += '[' + std::to_string(s.index) + ']';
      continue;
    }
    if (!out.empty() && !out.ends_with("...")) out += '.';
    constexpr std::size_t longest_key = 64;
    out += s.key.substr(0, longest_key);
    if (s.key.size() > longest_key) out += "...";
  }
  return out;
}

constexpr std::size_t max_errors = 100;
// Text without aliases needs about one value or byte per byte; aliases may add as much again (and
// 4 Ki in a small file). Under the fuzz targets' sanitizers a value costs about a microsecond:
// more would let a few hundred bytes of aliases run past their time budget.
constexpr std::size_t expansion_per_byte = 2;
constexpr std::size_t expansion_floor = 4096;

class converter {
 public:
  converter(allocator& alloc, std::vector<yaml_conversion_error>& errors, std::size_t& budget)
      : alloc_(alloc), errors_(errors), budget_(budget) {}

  rapidjson::Value operator()(const YAML::Node& n, const segment* at, unsigned depth) {
    if (stopped_) return rapidjson::Value(rapidjson::kNullType);
    if (!spend(1 + (n.IsScalar() ? n.Scalar().size() : 0), n, at)) {
      return rapidjson::Value(rapidjson::kNullType);
    }
    if (depth > json::default_max_depth) {
      stop(n, at,
           "values nest deeper than " + std::to_string(json::default_max_depth) +
               " levels through aliases (an alias inside the node it names?)");
      return rapidjson::Value(rapidjson::kNullType);
    }
    switch (n.Type()) {
      case YAML::NodeType::Scalar:
        return scalar_to_json(n, alloc_);
      case YAML::NodeType::Sequence: {
        rapidjson::Value array(rapidjson::kArrayType);
        std::size_t i = 0;
        for (const auto& item : n) {
          const segment here{at, {}, i++, true};
          array.PushBack((*this)(item, &here, depth + 1), alloc_);
        }
        return array;
      }
      case YAML::NodeType::Map: {
        rapidjson::Value object(rapidjson::kObjectType);
        // HasMember is a linear search: a set keeps a map of n keys at n log n.
        std::set<std::string_view> seen;
        for (const auto& entry : n) {
          const bool scalar_key = entry.first.IsScalar();
          // Keys as RapidJSON stores them (up to a NUL), as HasMember compared them.
          const std::string_view key = scalar_key ? entry.first.Scalar().c_str() : "";
          // Every entry costs, also one left out: an aliased map of bad keys is no free loop.
          if (!spend(1 + key.size(), entry.first, at)) break;
          const int line = entry.first.Mark().line + 1;
          if (!scalar_key) {
            report(at, line, "", "map keys must be strings");
            continue;
          }
          const segment here{at, key, 0, false};
          if (!seen.insert(key).second) {
            report(&here, line, key, "duplicate key");
            continue;
          }
          rapidjson::Value value = (*this)(entry.second, &here, depth + 1);
          object.AddMember(
              rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc_),
              value, alloc_);
        }
        return object;
      }
      default:
        return rapidjson::Value(rapidjson::kNullType);
    }
  }

 private:
  bool spend(std::size_t cost, const YAML::Node& n, const segment* at) {
    if (stopped_) return false;
    if (cost <= budget_) {
      budget_ -= cost;
      return true;
    }
    stop(n, at,
         "aliases repeat more than the text's size allows (" + std::to_string(expansion_per_byte) +
             " values or bytes per byte of text); write the repeated values out or use fewer "
             "aliases");
    return false;
  }
  void stop(const YAML::Node& n, const segment* at, std::string message) {
    stopped_ = true;
    budget_ = 0;
    report(at, n.Mark().line + 1, "", std::move(message), true);
  }
  // The path is spelled out only for an error that is listed.
  void report(const segment* at, int line, std::string_view key, std::string message,
              bool last = false) {
    if (reported_++ < max_errors || last) {
      errors_.push_back({path_of(at), line, std::string(key), std::move(message)});
    }
  }

  allocator& alloc_;
  std::vector<yaml_conversion_error>& errors_;
  std::size_t& budget_;
  std::size_t reported_ = 0;
  bool stopped_ = false;
};

}  // namespace

std::size_t yaml_expansion_budget(std::size_t text_size) {
  constexpr std::size_t most = std::numeric_limits<std::size_t>::max();
  return text_size > (most - expansion_floor) / expansion_per_byte
             ? most
             : expansion_per_byte * text_size + expansion_floor;
}

rapidjson::Value yaml_to_json(const YAML::Node& node, allocator& alloc,
                              std::vector<yaml_conversion_error>& errors, std::size_t& budget) {
  return converter(alloc, errors, budget)(node, nullptr, 0);
}

}  // namespace mlnetpol::app
