#pragma once
// The configuration in force: loaded at start (a bad file is fatal), then re-read every poll
// interval and on reload_now() (SIGHUP). A file that fails to read or parse is reported once and
// the last good configuration stays in force.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "policy/config.hpp"

namespace mlnetpol::app {

// A configuration file that cannot be loaded at start: serve exits 2, as every command does.
struct bad_configuration : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class config_watcher final : public std::enable_shared_from_this<config_watcher> {
 public:
  using apply_fn = std::function<void(const policy::config&)>;  // must not throw
  using failure_fn = std::function<void()>;                     // a reload was rejected

  // An empty path means the embedded defaults (policy::config{}), never re-read.
  config_watcher(boost::asio::io_context& io, std::filesystem::path path,
                 std::chrono::milliseconds interval, apply_fn apply, failure_fn on_failure);

  void load();  // throws bad_configuration with the file's problem
  void start();
  void stop();
  void reload_now();  // on an I/O thread, without waiting for the poll
  bool loaded() const { return loaded_.load(); }

 private:
  void reload();
  void schedule();

  boost::asio::io_context& io_;
  const std::filesystem::path path_;
  const std::chrono::milliseconds interval_;
  const apply_fn apply_;
  const failure_fn on_failure_;
  boost::asio::steady_timer timer_;
  std::mutex mutex_;   // the poll and SIGHUP may run on different I/O threads
  std::string bytes_;  // of the file last parsed, good or bad
  std::string read_error_;
  std::atomic<bool> loaded_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace mlnetpol::app
