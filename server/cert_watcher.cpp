#include "server/cert_watcher.hpp"

#include <stdexcept>

#include <boost/asio/post.hpp>

#include "common/files.hpp"
#include "common/obs/logging.hpp"

namespace mlnetpol::server {

namespace logging = obs::logging;
using spdlog::level::level_enum;

cert_watcher::cert_watcher(boost::asio::io_context& io, std::string cert_file, std::string key_file,
                           std::chrono::milliseconds interval, metrics& stats,
                           std::string client_ca_file)
    : io_(io),
      store_(std::move(cert_file), std::move(key_file), std::move(client_ca_file)),
      interval_(interval),
      stats_(stats),
      timer_(io) {}

void cert_watcher::load() {
  if (!files_mode()) {
    // The pair comes later (the Secret); a client CA named now must be usable now.
    const std::string& ca_file = store_.client_ca_file();
    if (ca_file.empty()) return;
    auto text = files::read(ca_file);
    if (!text) throw std::runtime_error("TLS client CA: " + text.error().message);
    if (text->empty()) throw std::runtime_error("TLS client CA: " + ca_file + " is empty");
    if (auto checked = check_client_ca(*text); !checked)
      throw std::runtime_error("TLS client CA: " + ca_file + ": " + checked.error().message);
    return;
  }
  std::lock_guard lock(mutex_);
  reload(true);
}

void cert_watcher::start() {
  if (polls()) schedule();
}

void cert_watcher::stop() {
  stopped_.store(true);
  timer_.cancel();
}

void cert_watcher::reload_now() {
  if (!polls()) return;
  boost::asio::post(io_, [self = shared_from_this()] {
    if (self->stopped_.load()) return;
    std::lock_guard lock(self->mutex_);
    self->reload(false);
  });
}

std::string cert_watcher::set_pem(std::string_view cert_pem, std::string_view key_pem) {
  std::lock_guard lock(mutex_);
  const auto loaded = store_.load_pem(cert_pem, key_pem);
  if (!loaded) return loaded.error().message;
  if (*loaded == certificate_store::status::reloaded) {
    const auto m = store_.material();
    stats_.set_certificate_expiry(m.not_after);
    logging::event(level_enum::info, "certificate loaded",
                   {{"source", "secret"},
                    {"serial", m.serial_hex},
                    {"not_after", static_cast<std::uint64_t>(m.not_after)}});
  }
  return {};
}

void cert_watcher::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_.load()) return;
    {
      std::lock_guard lock(self->mutex_);
      self->reload(false);
    }
    self->schedule();
  });
}

void cert_watcher::reload(bool at_start) {
  const auto reloaded = store_.reload();
  if (!reloaded) {
    const std::string& error = reloaded.error().message;
    if (at_start) throw std::runtime_error("TLS certificate: " + error);
    if (error != last_error_) {
      logging::event(level_enum::err,
                     "certificate reload failed; new handshakes keep the previous pair",
                     {{"error", error}});
    }
    last_error_ = error;
    return;
  }
  if (*reloaded == certificate_store::status::reloaded) {
    last_error_.clear();
    const auto m = store_.material();
    stats_.set_certificate_expiry(m.not_after);
    logging::event(level_enum::info, at_start ? "certificate loaded" : "certificate reloaded",
                   {{"cert", files_mode() ? store_.cert_file() : std::string("secret")},
                    {"serial", m.serial_hex},
                    {"not_after", static_cast<std::uint64_t>(m.not_after)}});
  }
}

}  // namespace mlnetpol::server
