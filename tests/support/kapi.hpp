#pragma once
// A real kube-apiserver v1.28.7 (with etcd) for end-to-end tests, started with the `kapi` script
// (../shared/tools/kube-apiserver/kapi, found through the env var MLNETPOL_KAPI) in a fresh
// folder on free ports, and stopped by the destructor:
//
//   auto script = mlnetpol::testing::kapi_script();      // nullopt: skip the suite (one line)
//   mlnetpol::testing::kapi_server kapi(*script);        // throws with the log tail if it fails
//   k8s::load_kubeconfig(kapi.kubeconfig());             // admin, system:masters
//   kapi.kubectl("create ns demo");                      // kubectl with that kubeconfig
//
// `kapi start` wipes etcd: restarting keeps nothing. stop_apiserver()/start_apiserver() instead
// stop and restart only the kube-apiserver process on the same etcd (same port, same data).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/files.hpp"
#include "tests/support/process.hpp"

namespace mlnetpol::testing {

// The kapi script from MLNETPOL_KAPI, or nullopt when unset or not a file.
inline std::optional<std::string> kapi_script() {
  const char* path = std::getenv("MLNETPOL_KAPI");
  if (path == nullptr || *path == '\0') return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  return std::string(path);
}

// True when nothing listens on 127.0.0.1:port and it can be bound now.
inline bool port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class kapi_server {
 public:
  // apiserver_flags go to kube-apiserver as they are (after `--`), e.g. a feature gate.
  explicit kapi_server(std::string script, const std::vector<std::string>& apiserver_flags = {})
      : script_(std::move(script)) {
    // etcd takes port, port+1 and port+2; several suites may run at once, so pick at random.
    std::mt19937 random(std::random_device{}());
    for (int attempt = 0; attempt < 50 && port_ == 0; ++attempt) {
      const int base = 20000 + static_cast<int>(random() % 20000);
      if (port_free(base) && port_free(base + 10) && port_free(base + 11) && port_free(base + 12)) {
        port_ = base;
        etcd_port_ = base + 10;
      }
    }
    if (port_ == 0) throw std::runtime_error("kapi: no free ports");
    std::string flags;
    for (const auto& flag : apiserver_flags) flags += " " + shell_quote(flag);
    const auto r = run_command(shell_quote(script_) + " start --dir " + shell_quote(dir_) +
                               " --port " + std::to_string(port_) + " --etcd-port " +
                               std::to_string(etcd_port_) + (flags.empty() ? "" : " --" + flags));
    if (r.status != 0) {
      const std::string log = tail(dir_ + "/logs/apiserver.log");
      stop();
      throw std::runtime_error("kapi start failed (exit " + std::to_string(r.status) + "): " + log);
    }
  }
  ~kapi_server() { stop(); }  // then scratch_ removes the folder
  kapi_server(const kapi_server&) = delete;
  kapi_server& operator=(const kapi_server&) = delete;

  void stop() { run_command(shell_quote(script_) + " stop --dir " + shell_quote(dir_)); }

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }
  std::string kubeconfig() const { return dir_ + "/admin.kubeconfig"; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ca_file() const { return dir_ + "/pki/ca.crt"; }

  // kubectl with the admin kubeconfig; args are passed to the shell as written.
  command_result kubectl(const std::string& args) const {
    return run_command("KUBECONFIG=" + shell_quote(kubeconfig()) + " kubectl " + args);
  }

  // Stops only kube-apiserver (etcd and its data stay); start_apiserver() brings it back with
  // the same flags plus `extra_flags` (kept for later restarts) and waits for /readyz.
  void stop_apiserver() {
    // Never "kill 0" (the whole process group) when the pid file is missing.
    if (pid("apiserver") == "0") return;
    const auto cmdline = read_text("/proc/" + pid("apiserver") + "/cmdline");
    if (!cmdline.empty()) apiserver_cmdline_ = cmdline;
    run_command("kill " + pid("apiserver") + " 2>/dev/null; for i in $(seq 1 50); do kill -0 " +
                pid("apiserver") + " 2>/dev/null || break; sleep 0.1; done");
  }
  void start_apiserver(const std::vector<std::string>& extra_flags = {}) {
    if (apiserver_cmdline_.empty()) throw std::runtime_error("stop_apiserver() first");
    for (const auto& flag : extra_flags) {
      if (!apiserver_cmdline_.empty() && apiserver_cmdline_.back() != '\0')
        apiserver_cmdline_ += '\0';
      apiserver_cmdline_ += flag;
    }
    std::string command;
    std::size_t start = 0;
    while (start < apiserver_cmdline_.size()) {
      const auto end = apiserver_cmdline_.find('\0', start);
      command += shell_quote(apiserver_cmdline_.substr(start, end - start)) + " ";
      if (end == std::string::npos) break;
      start = end + 1;
    }
    run_command(command + ">> " + shell_quote(dir_ + "/logs/apiserver.log") + " 2>&1 & echo $! > " +
                shell_quote(dir_ + "/apiserver.pid"));
    const std::string pki = dir_ + "/pki/";
    for (int i = 0; i < 120; ++i) {
      if (run_command("curl -sf --cacert " + pki + "ca.crt --cert " + pki + "admin.crt --key " +
                      pki + "admin.key " + url() + "/readyz >/dev/null 2>&1")
              .status == 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    throw std::runtime_error("kube-apiserver did not become ready again: " +
                             tail(dir_ + "/logs/apiserver.log"));
  }

 private:
  static std::string tail(const std::string& path) {
    const std::string text = read_text(path);
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }
  std::string pid(const std::string& name) const {
    std::string text = read_text(dir_ + "/" + name + ".pid");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text.empty() ? "0" : text;
  }

  std::string script_;
  temp_dir scratch_{"mlnetpol-kapi"};
  std::string dir_ = scratch_.path.string();
  int port_ = 0;
  int etcd_port_ = 0;
  std::string apiserver_cmdline_;
};

}  // namespace mlnetpol::testing
