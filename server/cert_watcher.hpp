#pragma once
// Keeps the serving certificate current: loads it at start (a failure is fatal), then re-reads the
// pair every poll interval and on reload_now() (SIGHUP). A bad new pair is reported once and the
// previous one stays in use.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/metrics.hpp"
#include "server/tls.hpp"

namespace mlnetpol::server {

class cert_watcher final : public std::enable_shared_from_this<cert_watcher> {
 public:
  // client_ca_file: "" or --client-ca-file, re-read with the pair.
  cert_watcher(boost::asio::io_context& io, std::string cert_file, std::string key_file,
               std::chrono::milliseconds interval, metrics& stats, std::string client_ca_file = {});

  // Throws std::runtime_error("TLS certificate: ...") when the pair or the client CA is unusable.
  void load();
  void start();  // the poll
  void stop();
  void reload_now();  // on an I/O thread, without waiting for the poll

  // A pair given as PEM (self-managed certificates: the Secret), for new handshakes; "" or why it
  // was rejected (the pair in force stays).
  std::string set_pem(std::string_view cert_pem, std::string_view key_pem);
  // No files named: the pair only arrives through set_pem, nothing is read or polled.
  bool files_mode() const { return !store_.cert_file().empty(); }
  // Something to poll: the pair's files or the client CA file.
  bool polls() const { return files_mode() || !store_.client_ca_file().empty(); }

  std::shared_ptr<boost::asio::ssl::context> current() const { return store_.current(); }
  bool loaded() const { return store_.loaded(); }

 private:
  void reload(bool at_start);
  void schedule();

  boost::asio::io_context& io_;
  certificate_store store_;
  const std::chrono::milliseconds interval_;
  metrics& stats_;
  boost::asio::steady_timer timer_;
  std::mutex mutex_;  // the poll and SIGHUP may run on different I/O threads
  std::string last_error_;
  std::atomic<bool> stopped_{false};
};

}  // namespace mlnetpol::server
