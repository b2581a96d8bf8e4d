#include "app/config_watcher.hpp"

#include <stdexcept>

#include <boost/asio/post.hpp>

#include "app/config_file.hpp"
#include "common/files.hpp"
#include "common/obs/logging.hpp"

namespace mlnetpol::app {

namespace logging = obs::logging;
using spdlog::level::level_enum;

config_watcher::config_watcher(boost::asio::io_context& io, std::filesystem::path path,
                               std::chrono::milliseconds interval, apply_fn apply,
                               failure_fn on_failure)
    : io_(io),
      path_(std::move(path)),
      interval_(interval),
      apply_(std::move(apply)),
      on_failure_(std::move(on_failure)),
      timer_(io) {}

void config_watcher::load() {
  std::lock_guard lock(mutex_);
  if (path_.empty()) {
    apply_(policy::config{});
    loaded_.store(true);
    logging::event(level_enum::info, "configuration loaded", {{"source", "embedded defaults"}});
    return;
  }
  auto bytes = files::read(path_);
  if (!bytes) throw bad_configuration(bytes.error().message);
  bytes_ = std::move(*bytes);
  auto loaded = load_config_file(path_);
  if (!loaded) throw bad_configuration(loaded.error().message);
  apply_(*loaded);
  loaded_.store(true);
  logging::event(level_enum::info, "configuration loaded", {{"source", path_.string()}});
}

void config_watcher::start() {
  if (!path_.empty()) schedule();
}

void config_watcher::stop() {
  stopped_.store(true);
  timer_.cancel();
}

void config_watcher::reload_now() {
  boost::asio::post(io_, [self = shared_from_this()] {
    if (!self->stopped_.load()) self->reload();
  });
}

void config_watcher::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_.load()) return;
    self->reload();
    self->schedule();
  });
}

void config_watcher::reload() {
  if (path_.empty()) return;
  std::lock_guard lock(mutex_);
  auto bytes = files::read(path_);
  if (!bytes) {
    const std::string& error = bytes.error().message;
    if (error != read_error_) {
      if (on_failure_) on_failure_();
      logging::event(level_enum::err, "configuration reload failed; keeping the last good one",
                     {{"error", error}});
    }
    read_error_ = error;
    return;
  }
  read_error_.clear();
  if (*bytes == bytes_) return;
  bytes_ = std::move(*bytes);
  auto loaded = load_config_file(path_);
  if (!loaded) {
    if (on_failure_) on_failure_();
    logging::event(level_enum::err, "configuration reload rejected; keeping the last good one",
                   {{"file", path_.string()}, {"error", loaded.error().message}});
    return;
  }
  apply_(*loaded);
  logging::event(level_enum::info, "configuration reloaded", {{"file", path_.string()}});
}

}  // namespace mlnetpol::app
