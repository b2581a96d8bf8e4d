// `mlnetpol pause --seconds N`: the Deployment's preStop hook. The kubelet runs it before sending
// SIGTERM, so the pod keeps serving while its endpoint is removed from the Service and the API
// servers stop picking it; the image needs no shell or `sleep` for it.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>

#include "app/commands.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* pause_usage =
    "usage: mlnetpol pause --seconds N\n"
    "\n"
    "Waits N seconds (0-300) and exits 0. Used as the Deployment's preStop hook so that endpoints\n"
    "drain before the server receives SIGTERM; see docs/operations.md.\n";

constexpr int max_seconds = 300;

int bad(const std::string& message) {
  return usage_error("pause", message, pause_usage);
}

}  // namespace

int pause_command(int argc, char** argv) {
  std::string text;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(pause_usage, stdout);
      return 0;
    }
    if (arg == "--seconds") {
      if (i + 1 >= argc) return bad("--seconds needs a value");
      text = argv[++i];
    } else if (arg.rfind("--seconds=", 0) == 0) {
      text = std::string(arg.substr(10));
    } else {
      return bad("unknown argument '" + std::string(arg) + "'");
    }
  }
  if (text.empty()) return bad("--seconds is required");
  int seconds = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || seconds < 0 ||
      seconds > max_seconds) {
    return bad("--seconds: \"" + text + "\" is not a whole number from 0 to " +
               std::to_string(max_seconds));
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return 0;
}

}  // namespace mlnetpol::app
