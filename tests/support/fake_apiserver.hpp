#pragma once
// An in-process fake kube-apiserver for tests: TLS on 127.0.0.1 (port 0), answering by method and
// target with canned responses — usually the captured v1.28.7 fixtures of
// tests/fixtures/apiserver/ — and recording what it received. One thread per connection, HTTP/1.1
// keep-alive, chunked bodies with pauses (watch streams), slow answers, optional client
// certificates (verified against the test CA).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/test_pki.hpp"

namespace mlnetpol::testing {

struct canned_response {
  unsigned status = 200;
  std::string reason;                                        // "" -> the standard one
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type, Retry-After, ...
  std::string body;
  bool chunked = false;
  // Chunked bodies may be given in pieces, each sent as one HTTP chunk after `pause`
  // (watch streams: lines, or parts of a line).
  std::vector<std::string> chunks;
  std::chrono::milliseconds pause{0};
  std::chrono::milliseconds delay{0};  // before anything is sent (timeouts)
  bool close_after = false;            // "Connection: close" and close
  bool drop_after = false;  // close without saying so: the client learns it on its next request
  bool hang = false;        // never answer (until stop)
};

struct received_request {
  std::string method;
  std::string target;  // path and query as sent
  std::string path;
  std::string query;                           // after '?', as sent (still encoded)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;     // 1, 2, ... in accept order
  std::string client_cn;  // the verified client certificate's CN, "" without one
};

using responder = std::function<canned_response(const received_request&)>;

// tests/fixtures/apiserver/ in the source tree.
std::filesystem::path fixtures_dir();
// A captured fixture's response (JSON bodies re-serialised compactly; watch bodies one event per
// line; `chunked` when the capture was chunked). name without ".json".
canned_response fixture_response(const std::string& name);
// The fixture's request: method and path (with query).
std::pair<std::string, std::string> fixture_request(const std::string& name);
std::string read_fixture_file(const std::string& file_name);

class fake_apiserver {
 public:
  struct options {
    key_pair server = test_pki::shared().server;
    std::string client_ca_pem = test_pki::shared().ca.cert_pem();  // "" -> no client certs
  };
  fake_apiserver();
  explicit fake_apiserver(options o);
  ~fake_apiserver();
  fake_apiserver(const fake_apiserver&) = delete;
  fake_apiserver& operator=(const fake_apiserver&) = delete;

  std::uint16_t port() const { return port_; }

  // Routes: an exact target (path?query) wins over a path alone (any query); unmatched requests
  // get a 404 Status naming the target.
  void on(const std::string& method, const std::string& target, canned_response response);
  void on(const std::string& method, const std::string& target, responder r);
  // Routes a fixture under its captured method and target; returns that target.
  std::string serve_fixture(const std::string& name);

  std::vector<received_request> requests() const;
  int connections() const;
  void stop();

 private:
  void accept_loop();
  void serve(int id, int fd, void* socket);
  canned_response answer(const received_request& request);
  void sleep_for(std::chrono::milliseconds d);

  struct state;
  std::unique_ptr<state> state_;
  std::uint16_t port_ = 0;
};

}  // namespace mlnetpol::testing
