#include <charconv>

#include "controller/serve.hpp"

namespace mlnetpol::controller {

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return fail("empty duration");
  std::chrono::milliseconds total{0};
  std::string_view rest = text;
  while (!rest.empty()) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || end == rest.data() || n > 1'000'000'000)
      return fail("bad duration \"" + std::string(text) + "\" (expected e.g. 500ms, 15s, 10m, 1h)");
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    std::uint64_t ms_per_unit = 0;
    for (const auto& [unit, ms] : {std::pair<std::string_view, std::uint64_t>{"ms", 1},
                                   {"s", 1000},
                                   {"m", 60'000},
                                   {"h", 3'600'000}}) {
      if (rest.starts_with(unit)) {
        ms_per_unit = ms;
        rest.remove_prefix(unit.size());
        break;
      }
    }
    if (ms_per_unit == 0)
      return fail("bad duration \"" + std::string(text) + "\" (expected e.g. 500ms, 15s, 10m, 1h)");
    total += std::chrono::milliseconds(n * ms_per_unit);
  }
  return total;
}

result<std::vector<std::string>> take_serve_flags(const std::vector<std::string>& args,
                                                  serve_flags& flags) {
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto take_value = [&]() -> result<std::string> {
      if (value) return *value;
      if (i + 1 >= args.size()) return fail(name + " needs a value");
      return args[++i];
    };
    auto take_duration = [&](std::chrono::milliseconds& out) -> result<void> {
      auto v = take_value();
      if (!v) return v.error();
      auto d = parse_duration(*v);
      if (!d) return fail(name + ": " + d.error().message);
      if (d->count() <= 0) return fail(name + " must be positive");
      out = *d;
      return {};
    };
    result<void> ok;
    if (name == "--kubeconfig") {
      auto v = take_value();
      if (!v) return v.error();
      flags.kubeconfig = *v;
    } else if (name == "--reconcile") {
      // A bare --reconcile means true, like Go's boolean flags.
      const std::string v = value.value_or("true");
      if (v != "true" && v != "false") return fail("--reconcile must be true or false");
      flags.reconcile = v == "true";
    } else if (name == "--resync-period") {
      ok = take_duration(flags.resync_period);
    } else if (name == "--leader-elect-lease-duration") {
      ok = take_duration(flags.lease_duration);
    } else if (name == "--leader-elect-renew-deadline") {
      ok = take_duration(flags.renew_deadline);
    } else if (name == "--leader-elect-retry-period") {
      ok = take_duration(flags.retry_period);
    } else {
      rest.push_back(args[i]);
    }
    if (!ok) return ok.error();
  }
  // client-go's rules: the lease outlives the renew deadline, which outlives a retry (with jitter).
  if (flags.lease_duration <= flags.renew_deadline)
    return fail("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline");
  if (flags.renew_deadline.count() <= flags.retry_period.count() * 12 / 10)
    return fail(
        "--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period");
  return rest;
}

std::string serve_flags_usage() {
  return "reconciler flags:\n"
         "  --kubeconfig FILE                  cluster access outside a pod (in a pod: the "
         "service\n"
         "                                     account); without either, serve is admission-only\n"
         "  --reconcile=true|false             keep labels and policies in the cluster (default "
         "true)\n"
         "  --resync-period D                  full pass over every secured namespace (default "
         "10m)\n"
         "  --leader-elect-lease-duration D    (default 15s)\n"
         "  --leader-elect-renew-deadline D    (default 10s)\n"
         "  --leader-elect-retry-period D      (default 2s)\n";
}

}  // namespace mlnetpol::controller
