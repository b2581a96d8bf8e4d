// Rest config: in-cluster service-account files and kubeconfig variants (data vs file, token vs
// certificate, relative paths, the errors a person needs to fix it).
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include <openssl/evp.h>

#include "k8s/client.hpp"
#include "tests/support/fake_apiserver_config.hpp"

namespace k8s = mlnetpol::k8s;
using namespace mlnetpol::testing;

namespace {

std::string base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

std::string kubeconfig(const std::string& server, const std::string& cluster_fields,
                       const std::string& user_fields,
                       const std::string& current = "current-context: test\n") {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: "
         "https://10.9.9.9\n- name: c\n  cluster:\n    server: " +
         server + "\n" + cluster_fields + "users:\n- name: u\n  user:\n" + user_fields +
         "contexts:\n- name: other\n  context: {cluster: other, user: nobody}\n- name: test\n"
         "  context:\n    cluster: c\n    user: u\n" +
         current;
}

std::string url(const fake_apiserver& server) {
  return "https://127.0.0.1:" + std::to_string(server.port());
}

}  // namespace

TEST_CASE("kubeconfig with -data fields and a client certificate reaches the server as admin") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  const auto& pki = test_pki::shared();
  const std::string text =
      kubeconfig(url(server), "    certificate-authority-data: " + base64(pki.ca.cert_pem()) + "\n",
                 "    client-certificate-data: " + base64(pki.admin.cert_pem) +
                     "\n    client-key-data: " + base64(pki.admin.key_pem) + "\n");
  auto config = k8s::parse_kubeconfig(text, "/nonexistent");
  REQUIRE(config.has_value());
  CHECK(config->host == "127.0.0.1");
  CHECK(config->port == server.port());
  CHECK(config->ca_pem == pki.ca.cert_pem());
  CHECK(config->tls_server_name == "127.0.0.1");
  CHECK(config->bearer_token.empty());
  k8s::client client(*config);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(server.requests().back().client_cn == "admin");
}

TEST_CASE("kubeconfig with files relative to its folder, and a token file") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  const auto& pki = test_pki::shared();
  temp_dir dir;
  write_file(dir.path / "kube" / "pki" / "ca.crt", pki.ca.cert_pem());
  write_file(dir.path / "kube" / "pki" / "admin.crt", pki.admin.cert_pem);
  write_file(dir.path / "kube" / "pki" / "admin.key", pki.admin.key_pem);
  write_file(dir.path / "kube" / "token", "file-token\n");
  write_file(dir.path / "kube" / "config",
             kubeconfig(url(server), "    certificate-authority: pki/ca.crt\n",
                        "    client-certificate: pki/admin.crt\n    client-key: " +
                            (dir.path / "kube" / "pki" / "admin.key").string() + "\n"));
  auto config = k8s::load_kubeconfig(dir.path / "kube" / "config");
  REQUIRE(config.has_value());
  CHECK(config->client_cert_pem == pki.admin.cert_pem);
  CHECK(config->client_key_pem == pki.admin.key_pem);
  k8s::client client(*config);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(server.requests().back().client_cn == "admin");

  write_file(
      dir.path / "kube" / "token-config",
      kubeconfig(url(server), "    certificate-authority: pki/ca.crt\n", "    tokenFile: token\n"));
  config = k8s::load_kubeconfig(dir.path / "kube" / "token-config");
  REQUIRE(config.has_value());
  CHECK(config->bearer_token_file == dir.path / "kube" / "token");
  k8s::client with_token(*config);
  REQUIRE(with_token.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(server.requests().back().headers.at("authorization") == "Bearer file-token");
  CHECK(server.requests().back().client_cn.empty());
}

TEST_CASE("kubeconfig with a token and tls-server-name") {
  const std::string text = kubeconfig("https://kube.example.com:6443/",
                                      "    certificate-authority-data: " + base64("x") +
                                          "\n    tls-server-name: kubernetes.default.svc\n",
                                      "    token: abc.def\n");
  auto config = k8s::parse_kubeconfig(text, ".");
  REQUIRE(config.has_value());
  CHECK(config->host == "kube.example.com");
  CHECK(config->port == 6443);
  CHECK(config->bearer_token == "abc.def");
  CHECK(config->tls_server_name == "kubernetes.default.svc");
  auto v6 = k8s::parse_kubeconfig(kubeconfig("https://[::1]", "", "    token: t\n"), ".");
  REQUIRE(v6.has_value());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 443);
}

TEST_CASE("kubeconfig -data fields may be wrapped over indented lines") {
  const std::string pem = test_pki::shared().ca.cert_pem();
  const std::string encoded = base64(pem);
  std::string wrapped = "|\n";
  for (std::size_t i = 0; i < encoded.size(); i += 64) {
    wrapped += "      " + encoded.substr(i, 64) + "\n";
  }
  auto config = k8s::parse_kubeconfig(
      kubeconfig("https://h", "    certificate-authority-data: " + wrapped, "    token: t\n"), ".");
  REQUIRE(config.has_value());
  CHECK(config->ca_pem == pem);
}

TEST_CASE("kubeconfig errors name what to fix") {
  auto error_of = [](const std::string& text) {
    auto config = k8s::parse_kubeconfig(text, "/nonexistent");
    REQUIRE_FALSE(config.has_value());
    return config.error().message;
  };
  const std::string ok_user = "    token: t\n";
  CHECK(error_of(kubeconfig("https://h", "", ok_user, "")).find("no current-context") !=
        std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "", ok_user, "current-context: nope\n"))
            .find("\"nope\" is not in contexts") != std::string::npos);
  CHECK(error_of(kubeconfig("http://h", "", ok_user)).find("https://") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h/prefix", "", ok_user)).find("path") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h:99999", "", ok_user)).find("port") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "    insecure-skip-tls-verify: true\n", ok_user))
            .find("never skipped") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "    certificate-authority-data: '***'\n", ok_user))
            .find("certificate-authority-data is not valid base64") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "",
                            "    client-certificate-data: " + base64("x") +
                                "\n    client-key-data: Zm9v=\n"))
            .find("client-key-data is not valid base64") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "    certificate-authority: missing.crt\n", ok_user))
            .find("missing.crt") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "", "    exec: {command: aws}\n")).find("exec") !=
        std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "", "    client-certificate-data: " + base64("x") + "\n"))
            .find("go together") != std::string::npos);
  CHECK(error_of(kubeconfig("https://h", "    certificate-authority: /dev/zero\n", ok_user))
            .find("not a regular file") != std::string::npos);
  CHECK_FALSE(error_of("").empty());
  CHECK_FALSE(error_of("- a\n- b\n").empty());
  CHECK_FALSE(error_of("clusters: [unclosed").empty());
  CHECK(error_of(std::string(100000, '[')) ==
        "kubeconfig: YAML nests deeper than 256 levels at line 1");
  // Deep indentation is not nesting: a map at column 5000 is one level, and not a kubeconfig.
  CHECK(error_of(std::string(5000, ' ') + "a: b").find("nests deeper") == std::string::npos);
  std::string dashes;
  for (int i = 0; i < 3000; ++i) dashes += "- ";
  CHECK(error_of("clusters:\n" + dashes + "x") ==
        "kubeconfig: YAML nests deeper than 256 levels at line 2");
  CHECK(error_of(std::string(2 << 20, ' ')) == "kubeconfig: larger than 1 MiB");
  CHECK(k8s::load_kubeconfig("/nonexistent/kubeconfig")
            .error()
            .message.find("/nonexistent/kubeconfig") != std::string::npos);
}

TEST_CASE("in-cluster: the service-account folder and the service environment") {
  fake_apiserver server;
  server.serve_fixture("namespace-get");
  temp_dir dir;
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  auto outside = k8s::in_cluster_config(dir.path);
  REQUIRE_FALSE(outside.has_value());
  CHECK(outside.error().message.find("not running in a pod") != std::string::npos);

  ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(server.port()).c_str(), 1);
  auto no_files = k8s::in_cluster_config(dir.path);
  REQUIRE_FALSE(no_files.has_value());
  CHECK(no_files.error().message.find("ca.crt") != std::string::npos);

  write_file(dir.path / "ca.crt", test_pki::shared().ca.cert_pem());
  write_file(dir.path / "token", "sa-token\n");
  auto config = k8s::in_cluster_config(dir.path);
  REQUIRE(config.has_value());
  CHECK(config->bearer_token_file == dir.path / "token");
  k8s::client client(*config);
  REQUIRE(client.get(k8s::namespaces, "", "ml-training").has_value());
  CHECK(server.requests().back().headers.at("authorization") == "Bearer sa-token");

  ::setenv("KUBERNETES_SERVICE_PORT", "https", 1);
  CHECK_FALSE(k8s::in_cluster_config(dir.path).has_value());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_CASE("load_rest_config: the kubeconfig when named, else the pod's service account") {
  temp_dir dir;
  write_file(dir.path / "config",
             kubeconfig("https://10.0.0.1:6443", "    certificate-authority-data: " +
                                                     base64(test_pki::shared().ca.cert_pem()) +
                                                     "\n",
                        "    token: t\n"));
  auto named = k8s::load_rest_config((dir.path / "config").string());
  REQUIRE(named.has_value());
  CHECK(named->host == "10.0.0.1");
  CHECK(named->port == 6443);
  // The error names the flag and the file.
  auto missing = k8s::load_rest_config("/nonexistent/kubeconfig");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.rfind("--kubeconfig: ", 0) == 0);
  CHECK(missing.error().message.find("/nonexistent/kubeconfig") != std::string::npos);
  // No kubeconfig: in-cluster, which outside a pod says so.
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  CHECK_FALSE(k8s::in_pod());
  auto none = k8s::load_rest_config("");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().message.find("not running in a pod") != std::string::npos);
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  CHECK(k8s::in_pod());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
}
