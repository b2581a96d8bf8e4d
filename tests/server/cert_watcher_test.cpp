// cert_watcher: the serving pair is loaded at start (a failure is fatal); a reload puts a new
// good pair in force for new handshakes and keeps the previous one when the new one is bad; a
// pair given as PEM (the Secret) is checked the same way.
#include "server/cert_watcher.hpp"

#include <ctime>
#include <memory>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include "certs/certs.hpp"
#include "tests/support/files.hpp"

using mlnetpol::server::cert_watcher;
using mlnetpol::testing::temp_dir;
using mlnetpol::testing::write_text;
using namespace std::chrono_literals;

namespace {

mlnetpol::certs::issued fresh_pair() {
  mlnetpol::certs::issue_options o;
  o.dev = true;
  return mlnetpol::certs::issue(o);
}

void reload(boost::asio::io_context& io, cert_watcher& w) {
  w.reload_now();
  io.restart();
  io.run();
}

}  // namespace

TEST_CASE("cert_watcher: loads the files at start; a pair that does not load is fatal") {
  temp_dir dir;
  boost::asio::io_context io;
  mlnetpol::server::metrics stats;
  auto missing = std::make_shared<cert_watcher>(io, (dir.path / "tls.crt").string(),
                                                (dir.path / "tls.key").string(), 1h, stats);
  CHECK(missing->files_mode());
  CHECK_THROWS_WITH_AS(missing->load(), doctest::Contains("TLS certificate: "),
                       std::runtime_error);
  CHECK_FALSE(missing->loaded());

  const auto pair = fresh_pair();
  write_text(dir.path / "tls.crt", pair.cert_pem);
  write_text(dir.path / "tls.key", pair.key_pem);
  auto w = std::make_shared<cert_watcher>(io, (dir.path / "tls.crt").string(),
                                          (dir.path / "tls.key").string(), 1h, stats);
  w->load();
  CHECK(w->loaded());
  CHECK(w->current() != nullptr);
  CHECK(stats.certificate_expiry() > static_cast<double>(std::time(nullptr)) + 300 * 86400.0);
}

TEST_CASE("cert_watcher: a reload takes a new good pair and keeps the old one for a bad pair") {
  temp_dir dir;
  const auto cert = (dir.path / "tls.crt").string(), key = (dir.path / "tls.key").string();
  const auto first = fresh_pair();
  write_text(cert, first.cert_pem);
  write_text(key, first.key_pem);
  boost::asio::io_context io;
  mlnetpol::server::metrics stats;
  auto w = std::make_shared<cert_watcher>(io, cert, key, 1h, stats);
  w->load();
  const auto in_force = w->current();

  reload(io, *w);  // the same files: the same context
  CHECK(w->current() == in_force);

  const auto second = fresh_pair();
  write_text(cert, second.cert_pem);
  write_text(key, first.key_pem);  // a key that does not match the certificate
  reload(io, *w);
  CHECK(w->current() == in_force);

  write_text(key, second.key_pem);
  reload(io, *w);
  CHECK(w->current() != in_force);
  const auto renewed = w->current();

  w->stop();
  write_text(cert, first.cert_pem);
  write_text(key, first.key_pem);
  reload(io, *w);  // stopped: a posted reload does nothing
  CHECK(w->current() == renewed);
}

TEST_CASE("cert_watcher: without files the pair arrives as PEM, checked the same way") {
  boost::asio::io_context io;
  mlnetpol::server::metrics stats;
  auto w = std::make_shared<cert_watcher>(io, "", "", 1h, stats);
  CHECK_FALSE(w->files_mode());
  CHECK_FALSE(w->polls());
  w->load();  // nothing to read yet
  CHECK_FALSE(w->loaded());
  const auto a = fresh_pair(), b = fresh_pair();
  CHECK_FALSE(w->set_pem(a.cert_pem, b.key_pem).empty());  // mismatched: rejected with a reason
  CHECK_FALSE(w->loaded());
  CHECK(w->set_pem(a.cert_pem, a.key_pem).empty());
  CHECK(w->loaded());
  const auto in_force = w->current();
  CHECK_FALSE(w->set_pem("garbage", a.key_pem).empty());
  CHECK(w->current() == in_force);  // the pair in force stays

  temp_dir dir;
  write_text(dir.path / "ca.crt", "not a certificate");
  auto with_ca = std::make_shared<cert_watcher>(io, "", "", 1h, stats,
                                                (dir.path / "ca.crt").string());
  CHECK(with_ca->polls());
  CHECK_THROWS_WITH_AS(with_ca->load(), doctest::Contains("TLS client CA: "), std::runtime_error);
}
