// `mlnetpol certs`: issues a CA and a serving certificate for the webhook Service and writes
// ca.crt, tls.crt and tls.key (the names of a kubernetes.io/tls Secret plus its CA).
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "app/commands.hpp"
#include "certs/certs.hpp"
#include "common/flags.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* certs_usage =
    "usage: mlnetpol certs --out DIR [--service NAME] [--namespace NS] [--days N] [--dev]\n"
    "                      [--dns NAME]... [--ip ADDR]... [--force]\n"
    "\n"
    "Issues an ECDSA P-256 CA and a serving certificate signed by it for the webhook Service,\n"
    "and writes DIR/ca.crt (0644), DIR/tls.crt (0644) and DIR/tls.key (0600, PKCS#8).\n"
    "The serving certificate is valid for NAME, NAME.NS, NAME.NS.svc and "
    "NAME.NS.svc.cluster.local.\n"
    "\n"
    "flags:\n"
    "  --out DIR          directory to write into (created if missing)\n"
    "  --service NAME     the webhook Service name (default mlnetpol)\n"
    "  --namespace NS     the Service's namespace (default mlnetpol-system)\n"
    "  --days N           validity of both certificates in days, 1..3650 (default 365)\n"
    "  --dev              also valid for localhost and 127.0.0.1 (for `make run`)\n"
    "  --dns NAME         an extra DNS name (repeatable)\n"
    "  --ip ADDR          an extra IP address (repeatable)\n"
    "  --force            replace existing files (otherwise an existing file is an error)\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit codes: 0 written, 1 issuing or writing failed, 2 usage error\n"
    "\n"
    "Then, with --out manifests/certs: kubectl apply --server-side -k manifests/overlays/standard\n"
    "(the certs component makes the Secret mlnetpol-tls with ca.crt, tls.crt and tls.key, and "
    "puts\n"
    "ca.crt into the webhooks' caBundle; docs/install-and-rollout.md).\n";

std::optional<int> parse_int(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < INT_MIN || value > INT_MAX) return std::nullopt;
  return static_cast<int>(value);
}

}  // namespace

int certs_command(int argc, char** argv) {
  certs::issue_options options;
  std::optional<std::filesystem::path> out;
  bool force = false;

  auto take = [](auto& out) {
    return [&out](std::string_view v) -> std::string {
      out = std::string(v);
      return {};
    };
  };
  auto add = [](std::vector<std::string>& out) {
    return [&out](std::string_view v) -> std::string {
      out.emplace_back(v);
      return {};
    };
  };
  flags::wording wording;
  wording.missing_value = "flag {} needs a value";
  wording.unexpected_argument = "unknown flag '{}'";
  wording.dashes_mean_missing = true;
  wording.empty_means_missing = true;
  flags::parser p(wording);
  p.toggle("--dev", [&] { options.dev = true; })
      .toggle("--force", [&] { force = true; })
      .value("--out",
             [&](std::string_view v) -> std::string {
               out = std::filesystem::path(v);
               return {};
             })
      .value("--service", take(options.service))
      .value("--namespace", take(options.namespace_name))
      .value("--dns", add(options.extra_dns))
      .value("--ip", add(options.extra_ips))
      .value("--days", [&](std::string_view v) -> std::string {
        const auto days = parse_int(v);
        if (!days) return "--days needs a whole number, got '" + std::string(v) + "'";
        options.days = *days;
        return {};
      });
  if (const auto done = parse_arguments(p, argc, argv, "certs", certs_usage)) return *done;
  if (!out) return usage_error("certs", "--out DIR is required", certs_usage);
  if (const std::string error = certs::check_options(options); !error.empty())
    return usage_error("certs", error, certs_usage);

  try {
    const certs::issued pair = certs::issue(options);
    certs::write_files(pair, *out, force);
  } catch (const std::exception& e) {
    // Library messages start with "certs: ", so this reads "mlnetpol certs: ...".
    std::fprintf(stderr, "mlnetpol %s\n", e.what());
    return 1;
  }
  std::printf("wrote %s, %s, %s (valid %d days for %s.%s.svc%s)\n", (*out / "ca.crt").c_str(),
              (*out / "tls.crt").c_str(), (*out / "tls.key").c_str(), options.days,
              options.service.c_str(), options.namespace_name.c_str(),
              options.dev ? ", localhost and 127.0.0.1" : "");
  return 0;
}

}  // namespace mlnetpol::app
