#pragma once
// The one command-line flag parser: flags are declared (name, value or toggle, what to do with
// the value), then parsed from argv. `--flag value` and `--flag=value` both work; an unknown flag
// is an error naming the closest known flag. Each command keeps its own wording of the errors
// (scripts and tests pin them) through `wording`. Commands exit 2 on any error.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace mlnetpol::flags {

// The name in `known` closest to `unknown` by edit distance, "" when none is close enough to be a
// typo (for flags and for command names alike).
std::string closest(std::string_view unknown, const std::vector<std::string_view>& known);

// How a command words its errors; {} is replaced by the flag or the argument.
struct wording {
  std::string missing_value = "{}: missing value";
  std::string unknown_flag = "unknown flag '{}'";
  std::string unexpected_argument = "unexpected argument '{}'";
  std::string value_not_expected = "flag {} takes no value";
  // A value that starts with "--" is a forgotten value ("--out --dev"), not a value.
  bool dashes_mean_missing = false;
  // An empty value ("--out=") is a missing value.
  bool empty_means_missing = false;
};

class parser {
 public:
  // Returns an error message for a bad value, empty when the value is taken.
  using value_fn = std::function<std::string(std::string_view value)>;

  explicit parser(wording w = {}) : wording_(std::move(w)) {}

  // A flag with a value. `missing` overrides wording::missing_value for this flag.
  parser& value(std::string name, value_fn set, std::string missing = {});
  // Another spelling of an already declared flag ("-o" for "--output").
  parser& alias(std::string name, std::string of);
  // A flag without a value.
  parser& toggle(std::string name, std::function<void()> set);
  // A switch: `--name` and `--name=true` set true, `--name=false` false (controller-runtime style).
  parser& boolean(std::string name, bool& out);
  // A duration (common/duration.hpp); "NAME: not a duration (like 500ms, 10s, 2m): 'v'", and
  // "NAME: must be > 0" for a zero one when `positive`.
  parser& duration(std::string name, std::chrono::milliseconds& out, bool positive = false);
  // Arguments that are not flags; without it they are errors.
  parser& positional(value_fn take);

  // true when --help or -h was given (parsing stops there). Arguments exclude the program name.
  result<bool> parse(const std::vector<std::string_view>& args) const;
  result<bool> parse(int argc, char** argv) const;  // argv[0] is the program

  // The declared flag closest to `unknown` by edit distance, "" when none is close.
  std::string closest(std::string_view unknown) const;

 private:
  struct flag {
    std::string name;
    bool takes_value = false;
    value_fn set_value;
    std::function<void()> set_toggle;
    std::string missing;
    bool* set_boolean = nullptr;
  };
  const flag* find(std::string_view name) const;
  std::string say(const std::string& pattern, std::string_view what) const;

  wording wording_;
  std::vector<flag> flags_;
  std::vector<std::pair<std::string, std::string>> aliases_;
  value_fn positional_;
};

// The handler of a flag whose value is taken as it is: stored in `out`, never refused.
inline parser::value_fn store_into(std::string& out) {
  return [&out](std::string_view v) -> std::string {
    out = v;
    return {};
  };
}

}  // namespace mlnetpol::flags
