// The HTTPS client: Boost.Beast over Asio/OpenSSL, blocking calls with deadlines. Each connection
// owns a private io_context that the calling thread runs until the operation completes or the
// deadline passes; cancel() posts a close to every connection in use.
#include "k8s/client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/files.hpp"
#include "common/obs/logging.hpp"
#include "k8s/wire.hpp"

namespace mlnetpol::k8s {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

// A page of 500 objects with managedFields is a few MiB; this bounds a broken or hostile answer.
constexpr std::uint64_t max_body = 64u << 20;
// One watch event is one object; no Kubernetes object comes near this.
constexpr std::size_t max_watch_line = 16u << 20;
// What is kept of a non-success answer's body.
constexpr std::size_t max_error_body = 1u << 20;
constexpr std::uint32_t max_header = 64u << 10;
constexpr std::size_t max_idle_connections = 8;
constexpr std::string_view json_type = "application/json";

struct connection {
  explicit connection(ssl::context& tls) : stream(ioc, tls) {}
  void close() {
    beast::error_code ignored;
    stream.next_layer().close(ignored);
  }

  net::io_context ioc{1};
  ssl::stream<tcp::socket> stream;
  beast::flat_buffer buffer;
  bool connected = false;
  bool reused = false;  // served an earlier request: the server may have closed it meanwhile
};

// Runs the connection's io_context until done, or until the deadline (then the socket is closed,
// abort called, and the aborted operation drained). Returns false on the deadline.
bool wait(connection& c, const bool& done, steady::time_point deadline,
          const std::function<void()>& abort = {}) {
  c.ioc.restart();
  while (!done) {
    if (c.ioc.run_one_until(deadline) == 0 && !done) {
      c.close();
      if (abort) abort();
      c.ioc.restart();
      while (!done && c.ioc.run_one() > 0) {
      }
      return false;
    }
  }
  return true;
}

// Starts one asynchronous operation with a handler that records its error, and waits for it.
template <class Start>
beast::error_code run_op(connection& c, steady::time_point deadline, bool& timed_out,
                         Start&& start) {
  bool done = false;
  beast::error_code result;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  timed_out = !wait(c, done, deadline);
  return result;
}

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

std::string collection_path(const resource& r, std::string_view namespace_name) {
  std::string path = r.group.empty() ? "/api/" : "/apis/" + std::string(r.group) + "/";
  path += r.version;
  if (r.namespaced && !namespace_name.empty()) {
    path += "/namespaces/";
    path += wire::url_encode(namespace_name);
  }
  path += "/";
  path += r.plural;
  return path;
}

std::string object_path(const resource& r, std::string_view namespace_name, std::string_view name) {
  return collection_path(r, namespace_name) + "/" + wire::url_encode(name);
}

struct query {
  void add(std::string_view key, std::string_view value) {
    text += text.empty() ? '?' : '&';
    text += key;
    text += '=';
    text += wire::url_encode(value);
  }
  std::string text;
};

// One request as the verbs describe it.
struct call {
  std::string_view verb;  // for errors and the observer
  const resource* r = nullptr;
  http::verb method = http::verb::get;
  std::string target;
  std::string_view content_type;
  std::string_view body;
};

struct raw_response {
  unsigned status = 0;
  std::string content_type;
  std::string retry_after;
  std::string body;
};

raw_response head_of(const http::response_header<>& h) {
  raw_response r;
  r.status = h.result_int();
  r.content_type = std::string(h[http::field::content_type]);
  r.retry_after = std::string(h[http::field::retry_after]);
  return r;
}

api_error local_error(std::string_view verb, const resource& r, failure_kind kind,
                      std::string message) {
  api_error e;
  e.kind = kind;
  e.verb = verb;
  e.resource = r.rbac_name();
  e.message = std::move(message);
  if (kind == failure_kind::invalid) e.causes.push_back(e.message);
  return e;
}

// Object verbs need a name, and a namespace for namespaced resources; checked before sending.
std::optional<api_error> check_object(std::string_view verb, const resource& r,
                                      std::string_view namespace_name, std::string_view name) {
  if (name.empty()) return local_error(verb, r, failure_kind::invalid, "no object name given");
  if (r.namespaced && namespace_name.empty()) {
    return local_error(verb, r, failure_kind::invalid,
                       "no namespace given for namespaced " + r.rbac_name());
  }
  return std::nullopt;
}

struct file_stamp {
  ino_t inode = 0;
  off_t size = -1;
  std::int64_t mtime_ns = 0;
  bool operator==(const file_stamp&) const = default;
};

std::string trim(std::string text) {
  const auto not_space = [](unsigned char ch) { return !std::isspace(ch); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

}  // namespace

struct client::impl {
  impl(rest_config c, client_options o) : config(std::move(c)), options(std::move(o)) {
    setup_tls();
    host_header =
        config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host;
    host_header += ":" + std::to_string(config.port);
    verify_name = config.tls_server_name.empty() ? config.host : config.tls_server_name;
  }

  void setup_tls() {
    beast::error_code ec;
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    tls.set_verify_mode(ssl::verify_peer, ec);
    if (config.ca_pem.empty()) {
      tls.set_default_verify_paths(ec);
    } else {
      tls.add_certificate_authority(net::buffer(config.ca_pem), ec);
      if (ec) {
        init_error = "the cluster CA is not a PEM certificate: " + ec.message();
        return;
      }
    }
    if (!config.client_cert_pem.empty()) {
      tls.use_certificate_chain(net::buffer(config.client_cert_pem), ec);
      if (ec) {
        init_error = "the client certificate is not PEM: " + ec.message();
        return;
      }
      tls.use_private_key(net::buffer(config.client_key_pem), ssl::context::pem, ec);
      if (ec) {
        init_error = "the client key is not a PEM key matching the certificate: " + ec.message();
        return;
      }
    }
  }

  // --- connections ---
  result<std::unique_ptr<connection>> acquire() {
    std::unique_ptr<connection> c;
    {
      std::lock_guard lock(mu);
      if (cancelled) return fail("cancelled");
      if (!idle.empty()) {
        c = std::move(idle.back());
        idle.pop_back();
      }
      if (!c) c = std::make_unique<connection>(tls);
      active.insert(c.get());
    }
    return c;
  }

  // Returns a connection: back to the pool when it may serve another request, else closed.
  void finish(std::unique_ptr<connection> c, bool reusable) {
    std::lock_guard lock(mu);
    active.erase(c.get());
    if (reusable && !cancelled && idle.size() < max_idle_connections) {
      c->reused = true;
      idle.push_back(std::move(c));
    }
  }

  bool is_cancelled() {
    std::lock_guard lock(mu);
    return cancelled;
  }

  std::string describe(std::string_view phase, beast::error_code ec, bool timed_out,
                       std::chrono::milliseconds budget) {
    if (is_cancelled()) return "cancelled";
    if (timed_out) {
      return std::string(phase) + " timed out after " + std::to_string(budget.count()) + " ms";
    }
    return std::string(phase) + ": " + ec.message();
  }

  result<void> connect(connection& c, steady::time_point request_deadline) {
    const auto deadline = std::min(request_deadline, steady::now() + options.connect_timeout);
    const auto budget = options.connect_timeout;
    const std::string where = config.host + ":" + std::to_string(config.port);
    bool timed_out = false;
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    if (is_ip_address(config.host)) {
      endpoints.emplace_back(net::ip::make_address(config.host), config.port);
    } else {
      tcp::resolver resolver(c.ioc);
      tcp::resolver::results_type results;
      bool done = false;
      resolver.async_resolve(config.host, std::to_string(config.port),
                             [&](beast::error_code e, tcp::resolver::results_type r) {
                               ec = e;
                               results = std::move(r);
                               done = true;
                             });
      // A lookup already inside getaddrinfo still finishes first (Asio cannot interrupt it).
      timed_out = !wait(c, done, deadline, [&] { resolver.cancel(); });
      if (timed_out || ec) return fail(describe("resolve " + config.host, ec, timed_out, budget));
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }
    ec = run_op(c, deadline, timed_out, [&](auto handler) {
      net::async_connect(c.stream.next_layer(), endpoints, std::move(handler));
    });
    if (ec || timed_out) return fail(describe("connect to " + where, ec, timed_out, budget));
    beast::error_code ignored;
    c.stream.next_layer().set_option(tcp::no_delay(true), ignored);
    c.stream.next_layer().set_option(net::socket_base::keep_alive(true), ignored);
    // A watch waits for minutes on a quiet connection: probe it so a peer that vanished without
    // a FIN or RST (node lost, NAT entry expired) ends the watch within about a minute.
    const int fd = c.stream.next_layer().native_handle();
    const int idle_seconds = 30, interval_seconds = 10, probes = 3;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_seconds, sizeof idle_seconds);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_seconds, sizeof interval_seconds);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);

    SSL* ssl_handle = c.stream.native_handle();
    // SNI carries names only; the certificate is checked against the name or the IP address.
    if (!is_ip_address(verify_name)) SSL_set_tlsext_host_name(ssl_handle, verify_name.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = is_ip_address(verify_name)
                        ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), 0);
    if (set != 1) return fail("cannot check the server certificate for \"" + verify_name + "\"");
    ec = run_op(c, deadline, timed_out, [&](auto handler) {
      c.stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec || timed_out) {
      std::string message = describe("TLS handshake with " + where, ec, timed_out, budget);
      const long verify = SSL_get_verify_result(ssl_handle);
      if (!timed_out && verify != X509_V_OK) {
        message += std::string(" (") + X509_verify_cert_error_string(verify) + ", expected \"" +
                   verify_name + "\")";
      }
      return fail(message);
    }
    c.connected = true;
    return {};
  }

  std::string token() {
    if (config.bearer_token_file.empty()) return config.bearer_token;
    std::lock_guard lock(token_mu);
    struct stat st {};
    if (::stat(config.bearer_token_file.c_str(), &st) == 0) {
      const file_stamp stamp{
          st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
      if (!(stamp == token_stamp)) {
        // Bound service-account tokens rotate (kubelet swaps the file): read the new one.
        auto text = files::read(config.bearer_token_file);
        if (text && !trim(*text).empty()) {
          cached_token = trim(std::move(*text));
          token_stamp = stamp;
          obs::logging::event(spdlog::level::debug, "bearer token file read",
                              {{"path", config.bearer_token_file.string()}});
        }
      }
    }
    return cached_token.empty() ? config.bearer_token : cached_token;
  }

  http::request<http::string_body> make_request(const call& k) {
    http::request<http::string_body> req{k.method, k.target, 11};
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, options.user_agent);
    req.set(http::field::accept, json_type);
    if (const auto t = token(); !t.empty()) req.set(http::field::authorization, "Bearer " + t);
    if (!k.content_type.empty()) req.set(http::field::content_type, k.content_type);
    req.body() = std::string(k.body);
    req.prepare_payload();
    return req;
  }

  // Connects when needed and writes the request. stale: the failure happened on a reused
  // connection before the server answered anything (it closed the idle connection).
  result<void> send(connection& c, const call& k, steady::time_point deadline, bool& stale) {
    stale = false;
    if (!c.connected) {
      if (auto connected = connect(c, deadline); !connected) return connected;
    }
    auto req = make_request(k);
    bool timed_out = false;
    const auto ec = run_op(c, deadline, timed_out, [&](auto handler) {
      http::async_write(c.stream, req, std::move(handler));
    });
    if (ec || timed_out) {
      stale = c.reused && !timed_out && !is_cancelled();
      return fail(describe("send", ec, timed_out, options.request_timeout));
    }
    return {};
  }

  void observe(std::string_view verb, std::string_view code) {
    std::shared_ptr<request_observer> o;
    {
      std::lock_guard lock(observer_mu);
      o = observer;
    }
    if (o && *o) (*o)(verb, code);
  }

  // counted: false when the request was already counted by its HTTP status.
  api_error transport_error(const call& k, std::string message, bool counted = false) {
    if (!counted) observe(k.verb, "error");
    api_error e;
    e.kind = failure_kind::transport;
    e.verb = k.verb;
    e.resource = k.r->rbac_name();
    e.message = std::move(message);
    return e;
  }

  api_error status_error(const call& k, const raw_response& r) {
    api_error e = classify_response(r.status, r.content_type, r.body, r.retry_after);
    e.verb = k.verb;
    e.resource = k.r->rbac_name();
    return e;
  }

  // What exchange() reads before it hands the connection over: the whole answer (at most
  // max_body), or the header only, the caller reading the body in pieces (a watch).
  enum class answer_part { whole, header };

  // Sends the request and reads `part` of the answer into `parser`, made afresh for each attempt.
  // A pooled connection the server closed while idle fails the send, or the read before any byte
  // arrived: then, on the first attempt only, the request goes again on another connection.
  // Returns the connection, for finish(), or the transport error.
  template <class Body>
  api_result<std::unique_ptr<connection>> exchange(
      const call& k, steady::time_point deadline,
      std::optional<http::response_parser<Body>>& parser, answer_part part,
      std::string_view phase) {
    if (!init_error.empty()) return transport_error(k, init_error);
    for (int attempt = 0;; ++attempt) {
      auto acquired = acquire();
      if (!acquired) return transport_error(k, acquired.error().message);
      std::unique_ptr<connection> c = std::move(*acquired);
      bool stale = false;
      if (auto sent = send(*c, k, deadline, stale); !sent) {
        finish(std::move(c), false);
        if (stale && attempt == 0) continue;
        return transport_error(k, sent.error().message);
      }
      parser.emplace();
      parser->header_limit(max_header);
      if (part == answer_part::whole) {
        parser->body_limit(max_body);
      } else {
        parser->body_limit(boost::none);
      }
      bool timed_out = false;
      const auto ec = run_op(*c, deadline, timed_out, [&](auto handler) {
        if (part == answer_part::whole) {
          http::async_read(c->stream, c->buffer, *parser, std::move(handler));
        } else {
          http::async_read_header(c->stream, c->buffer, *parser, std::move(handler));
        }
      });
      if (ec || timed_out) {
        const bool retry = c->reused && !parser->got_some() && !timed_out && !is_cancelled();
        finish(std::move(c), false);
        if (retry && attempt == 0) continue;
        return transport_error(k, describe(phase, ec, timed_out, options.request_timeout));
      }
      return c;
    }
  }

  // One request and its whole answer; 2xx answers are returned, others classified.
  api_result<raw_response> round_trip(const call& k) {
    std::optional<http::response_parser<http::string_body>> parser;
    auto c = exchange(k, steady::now() + options.request_timeout, parser, answer_part::whole,
                      "read the answer");
    if (!c) return c.error();
    auto& res = parser->get();
    raw_response out = head_of(res);
    out.body = std::move(res.body());
    finish(std::move(*c), res.keep_alive());
    observe(k.verb, std::to_string(out.status));
    if (out.status >= 200 && out.status < 300) return out;
    return status_error(k, out);
  }

  // A PATCH of one object under our field manager; `force` (apply) takes over conflicting fields.
  api_result<object_meta> patch_object(std::string_view verb, const resource& r,
                                       std::string_view namespace_name, std::string_view name,
                                       std::string_view content_type, std::string_view body,
                                       bool force) {
    if (auto bad = check_object(verb, r, namespace_name, name)) return *bad;
    query q;
    q.add("fieldManager", options.field_manager);
    if (force) q.add("force", "true");
    return object_call({verb, &r, http::verb::patch, object_path(r, namespace_name, name) + q.text,
                        content_type, body});
  }

  // A request whose 2xx answer `decode` reads; an answer it cannot read is a transport error that
  // keeps the status (the request was counted by it).
  template <class Decode>
  auto decoded_call(const call& k, std::string_view what, const Decode& decode)
      -> api_result<typename std::invoke_result_t<const Decode&, std::string_view>::value_type> {
    auto r = round_trip(k);
    if (!r) return r.error();
    auto decoded = decode(r->body);
    if (!decoded) {
      auto e = transport_error(k, "malformed " + std::string(what) + ": " + decoded.error().message,
                               true);
      e.status = r->status;
      return e;
    }
    return std::move(*decoded);
  }

  api_result<object_meta> object_call(const call& k) {
    return decoded_call(k, "answer", decode_object_meta);
  }

  api_result<lease_record> lease_call(const call& k) {
    return decoded_call(k, "answer", wire::decode_lease);
  }

  // --- watch ---
  // GET ...?watch=1 with the selectors given (either may be empty).
  api_result<void> watch(const resource& r, std::string_view namespace_name,
                         std::string_view label_selector, std::string_view field_selector,
                         std::string_view resource_version, std::chrono::seconds timeout_seconds,
                         const std::function<bool(const watch_event&)>& on_event);

  api_result<void> stream(const call& k, steady::time_point deadline,
                          const std::function<bool(const watch_event&)>& on_event) {
    std::optional<http::response_parser<http::buffer_body>> answer;
    auto opened = exchange(k, deadline, answer, answer_part::header, "read the watch answer");
    if (!opened) return opened.error();
    std::unique_ptr<connection> c = std::move(*opened);
    auto& parser = *answer;
    const unsigned status = parser.get().result_int();
    observe(k.verb, std::to_string(status));
    std::vector<char> chunk(64 * 1024);
    std::string pending;  // a line not yet ended by '\n'
    std::optional<api_error> failure;
    bool stopped = false;

    auto deliver = [&](std::string_view line) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (line.empty()) return;
      auto event = decode_watch_event(line);
      if (!event) {
        failure = transport_error(k, "malformed watch event: " + event.error().message, true);
        return;
      }
      if (!on_event(*event)) stopped = true;
    };
    auto feed = [&](std::string_view data) {
      while (!data.empty() && !failure && !stopped) {
        const auto newline = data.find('\n');
        const auto part = data.substr(0, newline);
        if (pending.size() + part.size() > max_watch_line) {
          failure = transport_error(
              k, "a watch event longer than " + std::to_string(max_watch_line) + " bytes", true);
          return;
        }
        if (newline == std::string_view::npos) {
          pending.append(part);
          return;
        }
        if (pending.empty()) {
          deliver(part);
        } else {
          pending.append(part);
          deliver(pending);
          pending.clear();
        }
        data.remove_prefix(newline + 1);
      }
    };

    std::string error_body;
    bool timed_out = false;
    beast::error_code ec;
    while (!parser.is_done() && !failure && !stopped) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      ec = run_op(*c, deadline, timed_out, [&](auto handler) {
        http::async_read_some(c->stream, c->buffer, parser, std::move(handler));
      });
      if (ec == http::error::need_buffer) ec = {};
      const std::size_t n = chunk.size() - parser.get().body().size;
      if (status == 200) {
        feed(std::string_view(chunk.data(), n));
      } else if (error_body.size() < max_error_body) {
        error_body.append(chunk.data(), std::min(n, max_error_body - error_body.size()));
      }
      if (ec || timed_out) {
        if (!failure) {
          failure = transport_error(
              k, describe("watch stream", ec, timed_out, options.request_timeout), true);
        }
        break;
      }
    }
    if (status == 200 && !failure && !stopped && !pending.empty()) deliver(pending);
    const bool reusable = parser.is_done() && parser.get().keep_alive() && !failure && !stopped;
    finish(std::move(c), reusable);
    if (status != 200) {
      if (failure) return *failure;
      raw_response r = head_of(parser.get());
      r.body = std::move(error_body);
      return status_error(k, r);
    }
    if (failure) return *failure;
    return {};
  }

  rest_config config;
  client_options options;
  ssl::context tls{ssl::context::tls_client};
  std::string init_error;  // the TLS set-up failed: every call reports it
  std::string host_header;
  std::string verify_name;

  std::mutex mu;
  std::vector<std::unique_ptr<connection>> idle;
  std::unordered_set<connection*> active;
  bool cancelled = false;

  std::mutex token_mu;
  file_stamp token_stamp;
  std::string cached_token;

  std::mutex observer_mu;
  std::shared_ptr<request_observer> observer;
};

client::client(rest_config config, client_options options)
    : impl_(std::make_unique<impl>(std::move(config), std::move(options))) {}

client::~client() {
  cancel();
}

void client::set_observer(request_observer observer) {
  std::lock_guard lock(impl_->observer_mu);
  impl_->observer = std::make_shared<request_observer>(std::move(observer));
}

void client::cancel() {
  std::vector<std::unique_ptr<connection>> idle;
  {
    std::lock_guard lock(impl_->mu);
    impl_->cancelled = true;
    // Each close runs on the thread that runs that connection's io_context, ending its operation.
    for (connection* c : impl_->active) net::post(c->ioc, [c] { c->close(); });
    idle.swap(impl_->idle);
  }
}

api_result<object_meta> client::apply(const resource& r, std::string_view namespace_name,
                                      std::string_view name, std::string_view json_body) {
  return impl_->patch_object("apply", r, namespace_name, name, "application/apply-patch+yaml",
                             json_body, true);
}

api_result<object_meta> client::replace(const resource& r, std::string_view namespace_name,
                                        std::string_view name, std::string_view json_body) {
  if (auto bad = check_object("update", r, namespace_name, name)) return *bad;
  query q;
  q.add("fieldManager", impl_->options.field_manager);
  return impl_->object_call({"update", &r, http::verb::put,
                             object_path(r, namespace_name, name) + q.text, json_type, json_body});
}

api_result<object_meta> client::merge_patch(const resource& r, std::string_view namespace_name,
                                            std::string_view name, std::string_view json_patch) {
  return impl_->patch_object("patch", r, namespace_name, name, "application/merge-patch+json",
                             json_patch, false);
}

api_result<object_meta> client::json_patch(const resource& r, std::string_view namespace_name,
                                           std::string_view name, std::string_view json_patch) {
  return impl_->patch_object("patch", r, namespace_name, name, "application/json-patch+json",
                             json_patch, false);
}

api_result<object_meta> client::get(const resource& r, std::string_view namespace_name,
                                    std::string_view name) {
  if (auto bad = check_object("get", r, namespace_name, name)) return *bad;
  return impl_->object_call(
      {"get", &r, http::verb::get, object_path(r, namespace_name, name), {}, {}});
}

api_result<std::string> client::get_raw(const resource& r, std::string_view namespace_name,
                                        std::string_view name) {
  if (auto bad = check_object("get", r, namespace_name, name)) return *bad;
  auto res =
      impl_->round_trip({"get", &r, http::verb::get, object_path(r, namespace_name, name), {}, {}});
  if (!res) return res.error();
  return std::move(res->body);
}

api_result<void> client::remove(const resource& r, std::string_view namespace_name,
                                std::string_view name) {
  if (auto bad = check_object("delete", r, namespace_name, name)) return *bad;
  auto res = impl_->round_trip(
      {"delete", &r, http::verb::delete_, object_path(r, namespace_name, name), {}, {}});
  if (!res) return res.error();
  return {};
}

api_result<object_meta> client::create(const resource& r, std::string_view namespace_name,
                                       std::string_view json_body) {
  if (r.namespaced && namespace_name.empty()) {
    return local_error("create", r, failure_kind::invalid,
                       "no namespace given for namespaced " + r.rbac_name());
  }
  query q;
  q.add("fieldManager", impl_->options.field_manager);
  return impl_->object_call({"create", &r, http::verb::post,
                             collection_path(r, namespace_name) + q.text, json_type, json_body});
}

api_result<list_page> client::list(const resource& r, std::string_view namespace_name,
                                   std::string_view label_selector, std::size_t limit,
                                   std::string_view continue_token) {
  query q;
  if (!label_selector.empty()) q.add("labelSelector", label_selector);
  if (limit > 0) q.add("limit", std::to_string(limit));
  if (!continue_token.empty()) q.add("continue", continue_token);
  const call k{"list", &r, http::verb::get, collection_path(r, namespace_name) + q.text, {}, {}};
  return impl_->decoded_call(k, "list",
                             [&](std::string_view body) { return wire::decode_list(r, body); });
}

api_result<list_page> client::list_object(const resource& r, std::string_view namespace_name,
                                          std::string_view name) {
  query q;
  q.add("fieldSelector", "metadata.name=" + std::string(name));
  const call k{"list", &r, http::verb::get, collection_path(r, namespace_name) + q.text, {}, {}};
  return impl_->decoded_call(k, "list",
                             [&](std::string_view body) { return wire::decode_list(r, body); });
}

api_result<std::string> client::list_raw(const resource& r, std::string_view namespace_name) {
  auto res = impl_->round_trip(
      {"list", &r, http::verb::get, collection_path(r, namespace_name), {}, {}});
  if (!res) return res.error();
  return std::move(res->body);
}

api_result<list_page> client::list_all(const resource& r, std::string_view namespace_name,
                                       std::string_view label_selector, std::size_t page_size) {
  list_page all;
  std::string token;
  bool relisted = false;
  for (;;) {
    auto page = list(r, namespace_name, label_selector, page_size, token);
    if (!page) {
      // The snapshot behind the continue token was compacted away: start again, once.
      if (page.error().kind == failure_kind::expired && !token.empty() && !relisted) {
        relisted = true;
        all = {};
        token.clear();
        continue;
      }
      return page.error();
    }
    if (all.items.empty()) {
      all.items = std::move(page->items);
    } else {
      all.items.insert(all.items.end(), std::make_move_iterator(page->items.begin()),
                       std::make_move_iterator(page->items.end()));
    }
    all.resource_version = std::move(page->resource_version);
    if (page->continue_token.empty()) return all;
    token = std::move(page->continue_token);
  }
}

api_result<void> client::watch(const resource& r, std::string_view namespace_name,
                               std::string_view label_selector, std::string_view resource_version,
                               std::chrono::seconds timeout_seconds,
                               const std::function<bool(const watch_event&)>& on_event) {
  return impl_->watch(r, namespace_name, label_selector, {}, resource_version, timeout_seconds,
                      on_event);
}

api_result<void> client::watch_object(const resource& r, std::string_view namespace_name,
                                      std::string_view name, std::string_view resource_version,
                                      std::chrono::seconds timeout_seconds,
                                      const std::function<bool(const watch_event&)>& on_event) {
  return impl_->watch(r, namespace_name, {}, "metadata.name=" + std::string(name),
                      resource_version, timeout_seconds, on_event);
}

api_result<void> client::impl::watch(const resource& r, std::string_view namespace_name,
                                     std::string_view label_selector,
                                     std::string_view field_selector,
                                     std::string_view resource_version,
                                     std::chrono::seconds timeout_seconds,
                                     const std::function<bool(const watch_event&)>& on_event) {
  query q;
  q.add("watch", "1");
  q.add("allowWatchBookmarks", "true");
  if (!resource_version.empty()) q.add("resourceVersion", resource_version);
  if (!label_selector.empty()) q.add("labelSelector", label_selector);
  if (!field_selector.empty()) q.add("fieldSelector", field_selector);
  // Without timeoutSeconds the API server picks 30-60 minutes itself.
  const auto server_timeout =
      timeout_seconds.count() > 0 ? timeout_seconds : std::chrono::seconds(3600);
  if (timeout_seconds.count() > 0) q.add("timeoutSeconds", std::to_string(timeout_seconds.count()));
  const auto deadline = steady::now() + server_timeout + options.request_timeout;
  return stream({"watch", &r, http::verb::get, collection_path(r, namespace_name) + q.text,
                        {}, {}},
                       deadline, on_event);
}

api_result<std::vector<std::string>> client::served_resources(std::string_view group,
                                                              std::string_view version) {
  // Errors name the group as their resource (RBAC: discovery is granted to every authenticated
  // user by system:discovery).
  const resource discovery{group, version, "", "APIResourceList", false};
  const call k{"get", &discovery, http::verb::get,
               "/apis/" + wire::url_encode(group) + "/" + wire::url_encode(version), {}, {}};
  auto r = impl_->decoded_call(k, "discovery", wire::decode_resource_names);
  if (!r && (r.error().kind == failure_kind::crd_missing ||
             r.error().kind == failure_kind::not_found)) {
    return std::vector<std::string>{};
  }
  return r;
}

api_result<lease_record> client::get_lease(std::string_view namespace_name, std::string_view name) {
  if (auto bad = check_object("get", leases, namespace_name, name)) return *bad;
  return impl_->lease_call(
      {"get", &leases, http::verb::get, object_path(leases, namespace_name, name), {}, {}});
}

api_result<lease_record> client::create_lease(const lease_record& lease) {
  if (auto bad = check_object("create", leases, lease.namespace_name, lease.name)) return *bad;
  lease_record fresh = lease;
  fresh.resource_version.clear();
  const std::string body = wire::encode_lease(fresh);
  return impl_->lease_call({"create", &leases, http::verb::post,
                            collection_path(leases, lease.namespace_name), json_type, body});
}

api_result<lease_record> client::update_lease(const lease_record& lease) {
  if (auto bad = check_object("update", leases, lease.namespace_name, lease.name)) return *bad;
  if (lease.resource_version.empty()) {
    return local_error("update", leases, failure_kind::invalid,
                       "a lease update needs the resourceVersion it was read at");
  }
  const std::string body = wire::encode_lease(lease);
  return impl_->lease_call({"update", &leases, http::verb::put,
                            object_path(leases, lease.namespace_name, lease.name), json_type,
                            body});
}

}  // namespace mlnetpol::k8s
