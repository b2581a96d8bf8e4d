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

int usage_error(const std::string& message) {
  std::fprintf(stderr, "mlnetpol certs: %s\nRun 'mlnetpol certs --help' for usage.\n",
               message.c_str());
  return 2;
}

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

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(certs_usage, stdout);
      return 0;
    }
    if (arg == "--dev") {
      options.dev = true;
      continue;
    }
    if (arg == "--force") {
      force = true;
      continue;
    }
    // Flags with a value accept both "--flag value" and "--flag=value".
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const bool takes_value = name == "--out" || name == "--service" || name == "--namespace" ||
                             name == "--days" || name == "--dns" || name == "--ip";
    if (!takes_value) {
      if (name == "--dev" || name == "--force")
        return usage_error("flag " + std::string(name) + " takes no value");
      return usage_error("unknown flag '" + std::string(arg) + "'");
    }
    if (!value) {
      // "--out --dev" is a forgotten value, not a directory named "--dev".
      if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--"))
        return usage_error("flag " + std::string(name) + " needs a value");
      value = argv[++i];
    }
    if (value->empty()) return usage_error("flag " + std::string(name) + " needs a value");
    if (name == "--out") {
      out = std::filesystem::path(*value);
    } else if (name == "--service") {
      options.service = *value;
    } else if (name == "--namespace") {
      options.namespace_name = *value;
    } else if (name == "--dns") {
      options.extra_dns.emplace_back(*value);
    } else if (name == "--ip") {
      options.extra_ips.emplace_back(*value);
    } else {
      const auto days = parse_int(*value);
      if (!days)
        return usage_error("--days needs a whole number, got '" + std::string(*value) + "'");
      options.days = *days;
    }
  }
  if (!out) return usage_error("--out DIR is required");
  if (const std::string error = certs::check_options(options); !error.empty())
    return usage_error(error);

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
