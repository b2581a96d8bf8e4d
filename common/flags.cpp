#include "common/flags.hpp"

#include "common/duration.hpp"
#include "common/edit_distance.hpp"

#include <algorithm>
#include <cstddef>

namespace mlnetpol::flags {

parser& parser::value(std::string name, value_fn set, std::string missing) {
  flags_.push_back({std::move(name), true, std::move(set), nullptr, std::move(missing)});
  return *this;
}

parser& parser::alias(std::string name, std::string of) {
  aliases_.emplace_back(std::move(name), std::move(of));
  return *this;
}

parser& parser::toggle(std::string name, std::function<void()> set) {
  flags_.push_back({std::move(name), false, nullptr, std::move(set), {}});
  return *this;
}

parser& parser::boolean(std::string name, bool& out) {
  flag f;
  f.name = std::move(name);
  f.set_boolean = &out;
  flags_.push_back(std::move(f));
  return *this;
}

parser& parser::duration(std::string name, std::chrono::milliseconds& out, bool positive) {
  std::string flag_name = name;
  return value(std::move(name), [&out, positive, flag_name](std::string_view v) -> std::string {
    const auto d = parse_duration(v);
    if (!d) return flag_name + ": not a duration (like 500ms, 10s, 2m): '" + std::string(v) + "'";
    if (positive && d->count() == 0) return flag_name + ": must be > 0";
    out = *d;
    return {};
  });
}

parser& parser::positional(value_fn take) {
  positional_ = std::move(take);
  return *this;
}

const parser::flag* parser::find(std::string_view name) const {
  for (const auto& [alias, of] : aliases_) {
    if (alias == name) name = of;
  }
  for (const auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string parser::say(const std::string& pattern, std::string_view what) const {
  std::string out = pattern;
  if (const auto at = out.find("{}"); at != std::string::npos) out.replace(at, 2, what);
  return out;
}

std::string closest(std::string_view unknown, const std::vector<std::string_view>& known) {
  std::string_view best;
  std::size_t best_distance = 3;  // more edits than this is not a typo
  // Bounded by the best so far, so whatever is typed costs little per flag.
  edit_distance distance;
  for (const auto name : known) {
    if (best_distance == 0) break;
    const std::size_t d = distance(unknown, name, {.limit = best_distance - 1});
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return std::string(best);
}

std::string parser::closest(std::string_view unknown) const {
  std::vector<std::string_view> names;
  names.reserve(flags_.size());
  for (const auto& f : flags_) names.push_back(f.name);
  return flags::closest(unknown, names);
}

result<bool> parser::parse(const std::vector<std::string_view>& args) const {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") return true;
    if (arg.size() < 2 || arg.front() != '-') {
      if (!positional_) return fail(say(wording_.unexpected_argument, arg));
      if (std::string problem = positional_(arg); !problem.empty()) return fail(problem);
      continue;
    }
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const flag* f = find(name);
    if (f == nullptr) {
      std::string message = say(wording_.unknown_flag, has_value ? name : arg);
      if (const std::string near = closest(name); !near.empty()) {
        message += "; did you mean " + near + "?";
      }
      return fail(message);
    }
    if (f->set_boolean != nullptr) {
      if (!has_value || value == "true") {
        *f->set_boolean = true;
      } else if (value == "false") {
        *f->set_boolean = false;
      } else {
        return fail(std::string(name) + ": true or false, not '" + std::string(value) + "'");
      }
      continue;
    }
    if (!f->takes_value) {
      if (has_value) return fail(say(wording_.value_not_expected, name));
      f->set_toggle();
      continue;
    }
    const std::string missing = say(f->missing.empty() ? wording_.missing_value : f->missing, name);
    if (!has_value) {
      if (i + 1 >= args.size()) return fail(missing);
      if (wording_.dashes_mean_missing && args[i + 1].starts_with("--")) return fail(missing);
      value = args[++i];
    }
    if (wording_.empty_means_missing && value.empty()) return fail(missing);
    if (std::string problem = f->set_value(value); !problem.empty()) return fail(problem);
  }
  return false;
}

result<bool> parser::parse(int argc, char** argv) const {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(args);
}

}  // namespace mlnetpol::flags
