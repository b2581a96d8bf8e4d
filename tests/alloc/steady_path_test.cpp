// Heap allocations per request on the steady keep-alive path of the real TLS server (port 0, this
// process, production logging: JSON at info with --log-denies), counted on the server's I/O thread
// by replacing the global operator new (counting_allocator.cpp) and OpenSSL's memory functions.
// Issue 27's target: at most 3 per pod request. Bodies: bench/bodies (the ones `make bench` sends).
// MLNETPOL_ALLOC_TRACE=1: a backtrace on stderr of each allocation of one more request per kind.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "admission/codec.hpp"
#include "admission/label_webhook.hpp"
#include "app/serve_app.hpp"
#include "common/obs/logging.hpp"
#include "common/snapshot.hpp"
#include "tests/alloc/counting_allocator.hpp"
#include "tests/integration/test_support.hpp"

using namespace mlnetpol;
using namespace mlnetpol::testing;

namespace {

std::string bench_body(const std::string& name) {
  return read_text(std::filesystem::path(MLNETPOL_SOURCE_DIR) / "bench" / "bodies" / name);
}

// stdout (the log) goes to /dev/null while alive: the decision lines are written, not shown.
class silenced_stdout {
 public:
  silenced_stdout() {
    std::fflush(stdout);
    saved_ = dup(1);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    close(null);
  }
  ~silenced_stdout() {
    obs::logging::flush();
    std::fflush(stdout);
    dup2(saved_, 1);
    close(saved_);
  }

 private:
  int saved_ = -1;
};

// `serve` as composed for admission only (no cluster): the real label webhook on /mutate and
// /validate, one I/O thread, whose allocations are counted.
struct label_server {
  temp_dir dir;
  snapshot<policy::config> config{policy::config{}};
  admission::label_webhook labels{config, nullptr};
  net::io_context io{1};
  std::optional<app::serve_app> srv;
  std::thread thread;

  label_server() {
    certs::write_files(shared_pair(), dir.path, true);
    auto opts = quick_options(dir.path);
    opts.threads = 1;
    opts.reload_interval = std::chrono::hours(1);  // no file checks inside a counting window
    srv.emplace(io, opts, [this](const policy::config& cfg) {
      config.set(cfg);
      return test_status(cfg);
    });
    srv->routes().handle("/mutate", labels.mutate());
    srv->routes().handle("/validate", labels.validate());
    srv->start();
    thread = std::thread([this] {
      alloc::counting_scope counted;
      io.run();
    });
  }
  ~label_server() {
    io.stop();
    thread.join();
  }
};

constexpr int warm_up = 64;
constexpr int measured = 256;

// Allocations per request.
struct counts {
  double total = 0;    // on the server's I/O thread
  double openssl = 0;  // of which OpenSSL's (what its per-thread cache took from the heap)
  double decode = 0;   // decode_review of the same body, measured apart
  double handler = 0;  // the label webhook's decision (policy engine, patch), measured apart
  // The server's own: transport, HTTP, routing, response, metrics, logging.
  double server() const { return total - openssl - decode - handler; }
  // mlnetpol's share: everything but OpenSSL's.
  double own() const { return total - openssl; }
};

// The server's thread over `measured` keep-alive requests after a warm-up. The window's edges may
// hold one request's tail (its write completion): +-1/measured per request.
void serve_counts(tls_client& c, const std::string& target, const std::string& body, counts& out) {
  for (int i = 0; i < warm_up; ++i) REQUIRE(c.request("POST", target, body).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto before = alloc::count();
  const auto ssl_before = alloc::openssl_count();
  for (int i = 0; i < measured; ++i) c.request("POST", target, body);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  out.total = static_cast<double>(alloc::count() - before) / measured;
  out.openssl = static_cast<double>(alloc::openssl_count() - ssl_before) / measured;
  if (std::getenv("MLNETPOL_ALLOC_TRACE")) {
    alloc::trace(true);
    c.request("POST", target, body);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    alloc::trace(false);
  }
}

// The same body decoded on this thread (as the session hands it over: padded), and the handler
// on the decoded request, per call.
void apart_counts(const std::string& body, admission::handler& h, counts& out) {
  std::string padded = body + std::string(64, ' ');
  const std::string_view view(padded.data(), body.size());
  for (int i = 0; i < warm_up; ++i) REQUIRE(admission::decode_review(view, 64).has_value());
  {
    alloc::counting_scope counted;
    const auto before = alloc::count();
    for (int i = 0; i < measured; ++i) (void)admission::decode_review(view, 64);
    out.decode = static_cast<double>(alloc::count() - before) / measured;
  }
  // Decoded last: a decoder may reuse per-thread state the request refers to.
  auto request = admission::decode_review(view, 64);
  REQUIRE(request.has_value());
  for (int i = 0; i < warm_up; ++i) (void)h.handle(*request);
  alloc::counting_scope counted;
  const auto before = alloc::count();
  for (int i = 0; i < measured; ++i) (void)h.handle(*request);
  out.handler = static_cast<double>(alloc::count() - before) / measured;
}

std::string describe(const char* name, const counts& c) {
  std::ostringstream s;
  s << name << ": " << c.total << " (OpenSSL " << c.openssl << "; mlnetpol " << c.own()
    << ": decode " << c.decode << ", label webhook " << c.handler << ", server " << c.server()
    << ")";
  return s.str();
}

}  // namespace

// Issue 27's target: at most 3 per pod request, OpenSSL's included. Its record layer's blocks (4
// per request, bench/README.md) come from the per-thread cache main installs
// (server/openssl_memory.hpp), as here: none reaches the heap. mlnetpol's own share is checked part
// by part. The server's share and decoding allocate nothing (review_request views its strings in
// the reused review document). The label webhook is pinned at what it allocates today, so that one
// more allocation fails: /validate's denial 2 (its message, and the decision's copy of it that the
// log line and Event keep), /mutate's label 3 (the source annotation's key and value, the patch
// text); violations, sites, paths, planned labels and the patch's tree stay inline.
TEST_CASE("steady keep-alive requests: mlnetpol's own share per request") {
  obs::logging::setup(obs::log_format::json, "info");
  obs::logging::set_log_denies(true);
  const std::string pod = bench_body("pod-create-training.json");
  const std::string ns = bench_body("namespace-create.json");
  counts validate_pod, mutate_pod, validate_ns, mutate_ns;
  {
    silenced_stdout quiet;
    label_server s;
    tls_client c(s.srv->port());
    c.connect();
    serve_counts(c, "/validate?timeout=10s", pod, validate_pod);
    serve_counts(c, "/mutate?timeout=10s", pod, mutate_pod);
    serve_counts(c, "/validate?timeout=10s", ns, validate_ns);
    serve_counts(c, "/mutate?timeout=10s", ns, mutate_ns);
  }
  obs::logging::setup(obs::log_format::text, "off");
  {
    snapshot<policy::config> config{policy::config{}};
    admission::label_webhook labels{config, nullptr};
    apart_counts(pod, labels.validate(), validate_pod);
    apart_counts(pod, labels.mutate(), mutate_pod);
    apart_counts(ns, labels.validate(), validate_ns);
    apart_counts(ns, labels.mutate(), mutate_ns);
  }
  MESSAGE("allocations per request: " << describe("/validate pod", validate_pod) << "; "
                                      << describe("/mutate pod", mutate_pod) << "; "
                                      << describe("/validate Namespace", validate_ns) << "; "
                                      << describe("/mutate Namespace", mutate_ns));
  REQUIRE(alloc::counts_openssl());
  // The window's edges: one request's tail at most.
  constexpr double edge = 1.0 / measured;
  for (const counts* c : {&validate_pod, &mutate_pod, &validate_ns, &mutate_ns}) {
    CHECK(c->server() <= edge);
  }
  // Today's shares on the bench bodies (the pod: a denial under /validate, the label's patch under
  // /mutate); lower these as they stop allocating.
  constexpr double pod_decode = 0, namespace_decode = 0;
  constexpr double validate_pod_webhook = 2, mutate_pod_webhook = 3;
  constexpr double namespace_webhook = 0;
  CHECK(validate_pod.decode <= pod_decode);
  CHECK(mutate_pod.decode <= pod_decode);
  CHECK(validate_ns.decode <= namespace_decode);
  CHECK(mutate_ns.decode <= namespace_decode);
  CHECK(validate_pod.handler <= validate_pod_webhook);
  CHECK(mutate_pod.handler <= mutate_pod_webhook);
  CHECK(validate_ns.handler <= namespace_webhook);
  CHECK(mutate_ns.handler <= namespace_webhook);
  // And mlnetpol's whole share on the server's thread, window edges allowed for.
  CHECK(validate_pod.own() <= pod_decode + validate_pod_webhook + edge);
  CHECK(mutate_pod.own() <= pod_decode + mutate_pod_webhook + edge);
  CHECK(validate_ns.own() <= namespace_decode + namespace_webhook + edge);
  CHECK(mutate_ns.own() <= namespace_decode + namespace_webhook + edge);
  // The whole request, OpenSSL's share included, is held to the target.
  constexpr double target = 3;
  static_assert(namespace_decode + namespace_webhook <= target);
  static_assert(pod_decode + validate_pod_webhook <= target);
  static_assert(pod_decode + mutate_pod_webhook <= target);
  for (const counts* c : {&validate_pod, &mutate_pod, &validate_ns, &mutate_ns}) {
    CHECK(c->openssl <= edge);
    CHECK(c->total <= target + edge);
  }
}
