#include "server/options.hpp"

#include <doctest/doctest.h>

using namespace mlnetpol::server;
using namespace std::chrono_literals;

TEST_CASE("serve defaults follow controller-runtime") {
  const auto r = parse_serve_args(std::vector<std::string_view>{});
  REQUIRE(r.has_value());
  CHECK_FALSE(r->help);
  CHECK(r->value.port == 9443);
  CHECK(r->value.bind_address == "0.0.0.0");
  CHECK(r->value.tls_cert_file == "/tmp/k8s-webhook-server/serving-certs/tls.crt");
  CHECK(r->value.tls_key_file == "/tmp/k8s-webhook-server/serving-certs/tls.key");
  CHECK(r->value.metrics_bind_address == "127.0.0.1:8080");
  CHECK(r->value.shutdown_grace == 25s);
  CHECK(r->value.threads >= 1);
  CHECK(r->value.config_file.empty());
  CHECK(r->value.format == log_format::json);
  CHECK(r->value.max_body_bytes == 7u * 1024 * 1024);
  CHECK(r->value.log_denies);
  CHECK(r->value.log_denies_per_second == 10);
  CHECK(r->value.log_denies_burst == 100);
}

TEST_CASE("--log-denies-per-second and --log-denies-burst; 0 per second is no limit") {
  const auto r = parse_serve_args(
      std::vector<std::string_view>{"--log-denies-per-second", "0", "--log-denies-burst=7"});
  REQUIRE(r.has_value());
  CHECK(r->value.log_denies_per_second == 0);
  CHECK(r->value.log_denies_burst == 7);
}

TEST_CASE("--log-denies takes true or false after '=', or nothing") {
  CHECK(parse_serve_args(std::vector<std::string_view>{"--log-denies"})->value.log_denies);
  CHECK(parse_serve_args(std::vector<std::string_view>{"--log-denies=true"})->value.log_denies);
  const auto off =
      parse_serve_args(std::vector<std::string_view>{"--log-denies=false", "--port", "1"});
  REQUIRE(off.has_value());
  CHECK_FALSE(off->value.log_denies);
  CHECK(off->value.port == 1);
}

TEST_CASE("serve flags, both --flag value and --flag=value") {
  const auto r = parse_serve_args(std::vector<std::string_view>{"--port",
                                                                "0",
                                                                "--bind-address=127.0.0.1",
                                                                "--tls-cert-file",
                                                                "/c.crt",
                                                                "--tls-key-file=/k.key",
                                                                "--threads",
                                                                "3",
                                                                "--config",
                                                                "cfg.yaml",
                                                                "--metrics-bind-address",
                                                                "0",
                                                                "--shutdown-grace",
                                                                "2s",
                                                                "--log-format",
                                                                "text",
                                                                "--log-level",
                                                                "debug",
                                                                "--max-connections",
                                                                "10",
                                                                "--max-connections-per-peer=4",
                                                                "--handshake-timeout=250ms",
                                                                "--header-timeout",
                                                                "1m",
                                                                "--body-timeout",
                                                                "3",
                                                                "--write-timeout",
                                                                "1h",
                                                                "--idle-timeout",
                                                                "90s",
                                                                "--reload-interval",
                                                                "100ms",
                                                                "--drain-idle-timeout=1500ms",
                                                                "--memory-release-interval",
                                                                "0"});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  const options& o = r->value;
  CHECK(o.port == 0);
  CHECK(o.bind_address == "127.0.0.1");
  CHECK(o.tls_cert_file == "/c.crt");
  CHECK(o.tls_key_file == "/k.key");
  CHECK(o.threads == 3);
  CHECK(o.config_file == "cfg.yaml");
  CHECK(o.metrics_bind_address == "0");
  CHECK(o.shutdown_grace == 2s);
  CHECK(o.format == log_format::text);
  CHECK(o.log_level == "debug");
  CHECK(o.max_connections == 10);
  CHECK(o.max_connections_per_peer == 4);
  CHECK(o.handshake_timeout == 250ms);
  CHECK(o.header_timeout == 1min);
  CHECK(o.body_timeout == 3s);
  CHECK(o.write_timeout == 1h);
  CHECK(o.idle_timeout == 90s);
  CHECK(o.drain_idle_timeout == 1500ms);
  CHECK(o.reload_interval == 100ms);
  CHECK(o.memory_release_interval == 0ms);
  CHECK(options{}.memory_release_interval == 10s);
}

TEST_CASE("--help wins") {
  const auto r = parse_serve_args(std::vector<std::string_view>{"--port", "1", "--help"});
  CHECK(r.has_value());
  CHECK(r->help);
  CHECK(serve_usage().find("--tls-cert-file") != std::string::npos);
}

TEST_CASE("bad flags get a message naming the flag") {
  struct bad {
    std::vector<std::string_view> args;
    std::string_view expected;
  };
  const bad cases[] = {
      {{"--port", "65536"}, "--port: not a port number: '65536'"},
      {{"--port", "x"}, "--port: not a port number: 'x'"},
      {{"--port"}, "--port: missing value"},
      {{"--threads", "0"}, "--threads: not a thread count"},
      {{"--log-format", "xml"}, "--log-format: json or text, not 'xml'"},
      {{"--log-level", "loud"}, "--log-level:"},
      {{"--log-denies=no"}, "--log-denies: true or false, not 'no'"},
      {{"--log-denies-per-second", "-1"},
       "--log-denies-per-second: not a count (0 to 1000000): '-1'"},
      {{"--log-denies-per-second", "ten"},
       "--log-denies-per-second: not a count (0 to 1000000): 'ten'"},
      {{"--log-denies-burst", "0"}, "--log-denies-burst: not a positive count: '0'"},
      {{"--shutdown-grace", "soon"}, "--shutdown-grace: not a duration"},
      {{"--shutdown-grace", "5d"}, "--shutdown-grace: not a duration"},
      {{"--metrics-bind-address", "8080"}, "--metrics-bind-address: not host:port or 0"},
      {{"--max-connections", "0"}, "--max-connections: not a positive count"},
      {{"--max-connections-per-peer", "0"}, "--max-connections-per-peer: not a positive count"},
      {{"--reload-interval", "0s"}, "--reload-interval: must be > 0"},
      {{"--memory-release-interval", "often"}, "--memory-release-interval: not a duration"},
      {{"--frobnicate"}, "unknown flag '--frobnicate'"},
      {{"serve"}, "unexpected argument 'serve'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.expected);
    const auto r = parse_serve_args(c.args);
    CHECK_FALSE(r.has_value());
    CHECK(r.error().message.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("host:port") {
  std::string host;
  std::uint16_t port = 1;
  CHECK(split_host_port("127.0.0.1:8080", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 8080);
  CHECK(split_host_port(":0", host, port));
  CHECK(host == "0.0.0.0");
  CHECK(port == 0);
  CHECK(split_host_port("[::1]:9", host, port));
  CHECK(host == "::1");
  CHECK(port == 9);
  CHECK_FALSE(split_host_port("localhost", host, port));
  CHECK_FALSE(split_host_port("h:99999", host, port));
}

TEST_CASE("--client-ca-file and --client-allowed-names") {
  const auto none = parse_serve_args(std::vector<std::string_view>{});
  REQUIRE(none.has_value());
  CHECK(none->value.client_ca_file.empty());
  CHECK(none->value.client_allowed_names.empty());

  const auto r = parse_serve_args(std::vector<std::string_view>{
      "--client-ca-file", "/etc/ca.crt", "--client-allowed-names=kube-apiserver, ,b.example,"});
  REQUIRE(r.has_value());
  CHECK(r->value.client_ca_file == "/etc/ca.crt");
  CHECK(r->value.client_allowed_names == std::vector<std::string>{"kube-apiserver", "b.example"});

  const auto names_only =
      parse_serve_args(std::vector<std::string_view>{"--client-allowed-names", "a"});
  CHECK_FALSE(names_only.has_value());
  CHECK(names_only.error().message == "--client-allowed-names needs --client-ca-file");
  const auto empty = parse_serve_args(
      std::vector<std::string_view>{"--client-ca-file", "x", "--client-allowed-names=,"});
  CHECK_FALSE(empty.has_value());
  CHECK(empty.error().message.find("--client-allowed-names") != std::string::npos);
  CHECK(serve_usage().find("--client-ca-file FILE") != std::string::npos);
}
