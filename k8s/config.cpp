// Where the API server is and who we are: in-cluster service-account files or a kubeconfig.
#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>

#include <yaml-cpp/yaml.h>
#include <boost/asio/ip/address.hpp>

#include "common/base64.hpp"
#include "common/files.hpp"
#include "common/yaml_depth.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::k8s {
namespace {

namespace fs = std::filesystem;

// A kubeconfig, a CA bundle or a key is a few KiB; the bound keeps a stray path (a device, a
// huge log) from being read whole.
constexpr std::uintmax_t max_file_size = 1 << 20;
constexpr std::size_t max_kubeconfig_size = 1 << 20;

result<std::string> read_small_file(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec) return fail(path.string() + ": " + ec.message());
  if (!fs::is_regular_file(status)) return fail(path.string() + ": not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) return fail(path.string() + ": " + ec.message());
  if (size > max_file_size) return fail(path.string() + ": larger than 1 MiB");
  return files::read(path);
}

result<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5)
    return fail("port \"" + std::string(text) + "\" is not 1-65535");
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return fail("port \"" + std::string(text) + "\" is not 1-65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return fail("port \"" + std::string(text) + "\" is not 1-65535");
  return static_cast<std::uint16_t>(value);
}

// A kubeconfig is a few KiB; yaml-cpp recurses per nesting level, so deep text is refused first.
result<void> check_yaml_bounds(std::string_view text) {
  if (text.size() > max_kubeconfig_size) return fail("larger than 1 MiB");
  return yaml::check_yaml_depth(text);
}

std::string scalar(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return {};
  const YAML::Node value = node[key];
  if (!value || !value.IsScalar()) return {};
  return value.Scalar();
}

// The entry of a named list (clusters, users, contexts) whose `name` is name, or a null node.
YAML::Node named_entry(const YAML::Node& root, const char* list, const std::string& name,
                       const char* inner) {
  const YAML::Node entries = root[list];
  if (!entries || !entries.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& entry : entries) {
    if (entry.IsMap() && scalar(entry, "name") == name) {
      const YAML::Node body = entry[inner];
      if (body && body.IsMap()) return body;
      return YAML::Node(YAML::NodeType::Null);
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// "-data" (base64) wins over the file path, as kubectl does.
result<std::string> data_or_file(const YAML::Node& node, const std::string& key,
                                 const fs::path& base_dir) {
  const std::string data = scalar(node, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = base64_decode(data, base64_form::lenient);
    if (!decoded) return fail(key + "-data is not valid base64");
    return std::move(*decoded);
  }
  const std::string file = scalar(node, key.c_str());
  if (file.empty()) return std::string();
  fs::path path(file);
  if (path.is_relative()) path = base_dir / path;
  auto text = read_small_file(path);
  if (!text) return fail(key + ": " + text.error().message);
  return text;
}

struct server_url {
  std::string host;
  std::uint16_t port = 443;
};

result<server_url> parse_server(std::string_view url) {
  constexpr std::string_view scheme = "https://";
  if (url.substr(0, scheme.size()) != scheme) {
    return fail("server \"" + std::string(url) + "\" is not an https:// URL");
  }
  url.remove_prefix(scheme.size());
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find_first_of("/?#@") != std::string_view::npos) {
    return fail("server URLs with a path, query or user are not supported");
  }
  server_url out;
  std::string_view port;
  if (!url.empty() && url.front() == '[') {
    const auto close = url.find(']');
    if (close == std::string_view::npos) return fail("server: unbalanced [ in the host");
    out.host = std::string(url.substr(1, close - 1));
    auto rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("server: garbage after the host");
      port = rest.substr(1);
    }
  } else {
    const auto colon = url.rfind(':');
    out.host = std::string(url.substr(0, colon));
    if (colon != std::string_view::npos) port = url.substr(colon + 1);
  }
  if (out.host.empty()) return fail("server: no host");
  if (!port.empty() || url.back() == ':') {
    auto p = parse_port(port);
    if (!p) return fail("server: " + p.error().message);
    out.port = *p;
  }
  return out;
}

result<rest_config> parse_kubeconfig_root(const YAML::Node& root, const fs::path& base_dir) {
  if (!root.IsMap()) return fail("not a kubeconfig (no mapping at the top)");
  const std::string current = scalar(root, "current-context");
  if (current.empty()) return fail("no current-context is set (kubectl config use-context NAME)");
  const YAML::Node context = named_entry(root, "contexts", current, "context");
  if (!context.IsMap()) return fail("current-context \"" + current + "\" is not in contexts");
  const std::string cluster_name = scalar(context, "cluster");
  const std::string user_name = scalar(context, "user");
  const YAML::Node cluster = named_entry(root, "clusters", cluster_name, "cluster");
  if (!cluster.IsMap()) return fail("cluster \"" + cluster_name + "\" is not in clusters");

  rest_config config;
  const std::string server = scalar(cluster, "server");
  if (server.empty()) return fail("cluster \"" + cluster_name + "\" has no server");
  auto url = parse_server(server);
  if (!url) return fail("cluster \"" + cluster_name + "\": " + url.error().message);
  config.host = url->host;
  config.port = url->port;
  if (scalar(cluster, "insecure-skip-tls-verify") == "true") {
    return fail("cluster \"" + cluster_name +
                "\": insecure-skip-tls-verify is not supported (verification is never skipped)");
  }
  auto ca = data_or_file(cluster, "certificate-authority", base_dir);
  if (!ca) return fail("cluster \"" + cluster_name + "\": " + ca.error().message);
  config.ca_pem = std::move(*ca);
  config.tls_server_name = scalar(cluster, "tls-server-name");
  if (config.tls_server_name.empty()) config.tls_server_name = config.host;

  if (user_name.empty()) return config;  // anonymous
  const YAML::Node user = named_entry(root, "users", user_name, "user");
  if (!user.IsMap()) {
    if (user.IsNull()) return config;  // a user entry without fields
    return fail("user \"" + user_name + "\" is not in users");
  }
  if (user["exec"] || user["auth-provider"]) {
    return fail("user \"" + user_name +
                "\": exec and auth-provider credentials are not supported; use a client "
                "certificate or a token");
  }
  auto cert = data_or_file(user, "client-certificate", base_dir);
  if (!cert) return fail("user \"" + user_name + "\": " + cert.error().message);
  auto key = data_or_file(user, "client-key", base_dir);
  if (!key) return fail("user \"" + user_name + "\": " + key.error().message);
  if (cert->empty() != key->empty()) {
    return fail("user \"" + user_name + "\": client-certificate and client-key go together");
  }
  config.client_cert_pem = std::move(*cert);
  config.client_key_pem = std::move(*key);
  config.bearer_token = scalar(user, "token");
  const std::string token_file = scalar(user, "tokenFile");
  if (config.bearer_token.empty() && !token_file.empty()) {
    fs::path path(token_file);
    if (path.is_relative()) path = base_dir / path;
    config.bearer_token_file = path;
  }
  return config;
}

}  // namespace

bool in_pod() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  return host != nullptr && *host != '\0';
}

result<rest_config> in_cluster_config(const fs::path& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!in_pod() || port == nullptr || *port == '\0') {
    return fail(
        "not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  rest_config config;
  std::string_view h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  config.host = std::string(h);
  auto p = parse_port(port);
  if (!p) return fail("KUBERNETES_SERVICE_PORT: " + p.error().message);
  config.port = *p;
  auto ca = read_small_file(sa_dir / "ca.crt");
  if (!ca) return fail("service-account CA: " + ca.error().message);
  config.ca_pem = std::move(*ca);
  config.bearer_token_file = sa_dir / "token";
  auto token = read_small_file(config.bearer_token_file);
  if (!token) return fail("service-account token: " + token.error().message);
  config.tls_server_name = config.host;
  return config;
}

result<rest_config> parse_kubeconfig(std::string_view yaml, const fs::path& base_dir) {
  if (auto bounded = check_yaml_bounds(yaml); !bounded) {
    return fail("kubeconfig: " + bounded.error().message);
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    auto config = parse_kubeconfig_root(root, base_dir);
    if (!config) return fail("kubeconfig: " + config.error().message);
    return config;
  } catch (const std::exception& e) {
    return fail(std::string("kubeconfig: ") + e.what());
  }
}

result<rest_config> load_kubeconfig(const fs::path& path) {
  auto text = read_small_file(path);
  if (!text) return fail("kubeconfig " + text.error().message);
  auto config =
      parse_kubeconfig(*text, path.parent_path().empty() ? fs::path(".") : path.parent_path());
  if (!config) return fail(path.string() + ": " + config.error().message);
  return config;
}

result<rest_config> load_rest_config(const std::string& kubeconfig) {
  if (kubeconfig.empty()) return in_cluster_config();
  auto loaded = load_kubeconfig(kubeconfig);
  if (!loaded) return fail("--kubeconfig: " + loaded.error().message);
  return loaded;
}

}  // namespace mlnetpol::k8s
