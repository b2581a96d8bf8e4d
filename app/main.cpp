// mlnetpol: one binary, subcommands serve | review | render | certs | version | pause.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "app/commands.hpp"
#include "app/version.hpp"
#include "common/flags.hpp"
#include "server/openssl_memory.hpp"

namespace {

constexpr const char* usage_text =
    "usage: mlnetpol <command> [flags]\n"
    "\n"
    "commands:\n"
    "  serve    run the admission webhook server (HTTPS)\n"
    "  review   check manifests or an AdmissionReview offline, as the webhooks would\n"
    "  render   print the network policies the configuration requires\n"
    "  certs    issue a CA and a serving certificate for the webhook Service\n"
    "  version  print the version, git commit, build date and library versions\n"
    "  pause    wait N seconds (the Deployment's preStop hook)\n"
    "  explain  say whether a connection is allowed and which policy and rule decide it\n"
    "  matrix   every ordered pair of pods: allowed or not\n"
    "  flows    judge Hubble flows against the set enforce would apply\n"
    "\n"
    "Run 'mlnetpol <command> --help' for the flags of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  // Before anything touches OpenSSL. Should it have allocated already, its own malloc stays.
  mlnetpol::server::install_openssl_memory();
  if (argc < 2) {
    std::fputs(usage_text, stderr);
    return 2;
  }
  const std::string_view command = argv[1];
  // Subcommands see argv as if they were the program: argv[0] is "mlnetpol <command>".
  if (command == "serve") return mlnetpol::app::serve_command(argc - 1, argv + 1);
  if (command == "review") return mlnetpol::app::review_command(argc - 1, argv + 1);
  if (command == "render") return mlnetpol::app::render_command(argc - 1, argv + 1);
  if (command == "certs") return mlnetpol::app::certs_command(argc - 1, argv + 1);
  if (command == "pause") return mlnetpol::app::pause_command(argc - 1, argv + 1);
  if (command == "explain") return mlnetpol::app::explain_command(argc - 1, argv + 1);
  if (command == "matrix") return mlnetpol::app::matrix_command(argc - 1, argv + 1);
  if (command == "flows") return mlnetpol::app::flows_command(argc - 1, argv + 1);

  if (command == "version" || command == "--version") {
    return mlnetpol::app::version_command(argc - 1, argv + 1);
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  const std::string guess =
      mlnetpol::flags::closest(command, {"serve", "review", "render", "certs", "version", "pause",
                                                 "explain", "matrix", "flows"});
  std::fprintf(stderr, "mlnetpol: unknown command '%s'%s\n\n%s", argv[1],
               guess.empty() ? "" : ("; did you mean " + guess + "?").c_str(), usage_text);
  return 2;
}
