// app/config_file.cpp (YAML/JSON loading) is tested here: this test binary links
// mlnetpol_config_file.
#include "app/config_file.hpp"

#include <doctest/doctest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "policy/config_parse.hpp"
#include "tests/support/files.hpp"
#include "tests/support/yaml_aliases.hpp"

using mlnetpol::app::default_config_yaml;
using mlnetpol::app::load_config_file;
using mlnetpol::testing::temp_file;
namespace policy = mlnetpol::policy;

namespace {


}  // namespace

TEST_CASE("the embedded default parses to policy::config{}") {
  temp_file f(default_config_yaml());
  const auto r = load_config_file(f.path);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  CHECK(*r == policy::config{});
}

TEST_CASE("a non-default configuration survives format -> YAML -> load") {
  policy::config cfg;
  cfg.cilium_mode = true;
  cfg.tenant_namespaces = {"team-alpha", "team-beta"};
  cfg.enforcement = policy::enforcement_mode::audit;
  cfg.inference_allowed_services = {{"feast", "feature-store"}};
  cfg.ingress_controller_pods = {{"ingress", {{"a.b/c", "d"}, {"e", ""}}}};
  cfg.training_metrics_ports = {1, 65535};
  cfg.exempt_users = {"weird \"user\"\\name"};
  cfg.platform_pod_selector_key = "";
  temp_file f(policy::format_config_yaml(cfg));
  const auto r = load_config_file(f.path);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  CHECK(*r == cfg);
}

TEST_CASE("YAML and JSON files, as the module's README writes them") {
  temp_file yaml(R"(# partial file: the rest keeps its defaults
cilium_mode: true
enforcement_mode: warn
tenant_namespaces:
  - team-alpha
  - team-beta
inference_allowed_services:
  - k8sService:
      serviceName: postgres
      namespace: database
  - k8sService:
      serviceName: feast
      namespace: feature-store
training_metrics_ports: [9090]
)");
  const auto y = load_config_file(yaml.path);
  REQUIRE_MESSAGE(y.has_value(), (y ? "" : y.error().message));
  CHECK(y->cilium_mode);
  CHECK(y->enforcement == policy::enforcement_mode::warn);
  CHECK(y->tenant_namespaces == std::vector<std::string>{"team-alpha", "team-beta"});
  CHECK(y->inference_allowed_services.at(1) ==
        policy::k8s_service_ref{"feast", "feature-store"});
  CHECK(y->training_metrics_ports == std::vector<std::uint16_t>{9090});
  CHECK(y->platform_namespaces == policy::config{}.platform_namespaces);

  temp_file json(R"({"enabled": false, "label_key": "workload-type", "admin_groups": []})",
                 "config.json");
  const auto j = load_config_file(json.path);
  REQUIRE_MESSAGE(j.has_value(), (j ? "" : j.error().message));
  CHECK_FALSE(j->enabled);
  CHECK(j->admin_groups.empty());

  temp_file braces("{}");
  const auto e = load_config_file(braces.path);
  REQUIRE_MESSAGE(e.has_value(), (e ? "" : e.error().message));
  CHECK(*e == policy::config{});
}

TEST_CASE("a file with no configuration in it is refused, not taken as the defaults") {
  for (const char* text : {"", "   \n\t\n", "# only a comment\n\n# and another\n", "---\n", "~\n",
                           "null"}) {
    CAPTURE(text);
    temp_file f(text);
    const auto r = load_config_file(f.path);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == f.path.string() +
                                   ": no configuration (the file is empty or holds only whitespace "
                                   "and comments); write {} to mean every default");
  }
}

TEST_CASE("errors: FILE: key.path: problem, all of them") {
  struct row {
    const char* yaml;
    std::vector<std::string> lines;  // expected error lines after "FILE: "
  };
  const std::vector<row> rows{
      {"enforcment_mode: warn\n",
       {"enforcment_mode: unknown key; did you mean \"enforcement_mode\"?"}},
      {"enabled: \"true\"\n",
       {"enabled: wrong type: expected a bool (true or false), got a string (\"true\")"}},
      {"enabled: yes\n",  // YAML 1.2: "yes" is a string, not a bool
       {"enabled: wrong type: expected a bool (true or false), got a string (\"yes\")"}},
      {"training_metrics_ports: [\"80\", 0]\n",
       {"training_metrics_ports[0]: wrong type: expected a port number (1-65535), got a string "
        "(\"80\")",
        "training_metrics_ports[1]: port 0 out of range 1-65535"}},
      {"label_key: \"\"\nplatform_namespaces: [Argo]\n",
       {"label_key: empty label key",
        "platform_namespaces[0]: \"Argo\" is not a valid namespace name (DNS-1123 label: at most "
        "63 lowercase letters, digits or '-', starting and ending with a letter or digit)"}},
      {"enabled: true\nenabled: false\n", {"enabled: duplicate key"}},
      {"- a\n- b\n", {"the configuration must be a map of keys, got a list"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.yaml);
    temp_file f(r.yaml);
    const auto result = load_config_file(f.path);
    CHECK_FALSE(result.has_value());
    std::string expected;
    for (const auto& line : r.lines) {
      expected += (expected.empty() ? "" : "\n") + f.path.string() + ": " + line;
    }
    CHECK(result.error().message == expected);
  }
}

TEST_CASE("unreadable and malformed files") {
  const auto missing = load_config_file("/nonexistent/mlnetpol.yaml");
  CHECK_FALSE(missing.has_value());
  CHECK(missing.error().message.rfind("/nonexistent/mlnetpol.yaml: cannot open: ", 0) == 0);

  temp_file bad("enabled: [true\n");
  const auto r = load_config_file(bad.path);
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.rfind(bad.path.string() + ":", 0) == 0);
  CHECK(r.error().message.find("invalid YAML") != std::string::npos);
}

TEST_CASE("a file that parses but would render invalid policies is refused by the loader") {
  // serve (start and reload), review and render share this loader, so all three refuse it.
  temp_file f("https_egress_except_cidrs: [\"10.0.0.0/8\", \"fd00::/8\", \"0.0.0.0/0\"]\n");
  const auto result = load_config_file(f.path);
  CHECK_FALSE(result.has_value());
  CHECK(result.error().message ==
        f.path.string() + ": https_egress_except_cidrs: 'fd00::/8' is not an IPv4 CIDR\n" +
            f.path.string() + ": https_egress_except_cidrs: '0.0.0.0/0' would exclude every address");
}

TEST_CASE("a 30,000-digit plain scalar is a clear error, not a stack overflow") {
  const std::string digits(30000, '9');
  // Too big for an integer: typed as a (huge) number, which a port list and a string reject.
  temp_file ports("training_metrics_ports: [" + digits + "]\n");
  auto r = load_config_file(ports.path);
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.find("training_metrics_ports[0]: wrong type: expected a port number") !=
        std::string::npos);
  temp_file key("label_key: " + digits + "\n");
  r = load_config_file(key.path);
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.find("label_key: wrong type: expected a string, got a number") !=
        std::string::npos);
  // Quoted, the same digits are a string (and too long for a label key, but not a crash).
  temp_file quoted("exempt_users: [\"" + digits + "\", " + std::string(30000, 'x') + "]\n");
  r = load_config_file(quoted.path);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  CHECK(r->exempt_users == std::vector<std::string>{digits, std::string(30000, 'x')});
  // A long float and a long exponent go through the same scanner.
  temp_file floats("training_metrics_ports: [" + digits + "." + digits + "e" + digits + "]\n");
  CHECK_FALSE(load_config_file(floats.path).has_value());
}

TEST_CASE("plain scalars are typed as YAML 1.2's core schema types them") {
  // Which type a scalar got shows in the error for a list of strings.
  struct row {
    const char* scalar;
    const char* got;  // "" when it is a string (no error)
  };
  const std::vector<row> rows{
      {"~", "null"},
      {"null", "null"},
      {"Null", "null"},
      {"NULL", "null"},
      {"true", "a bool"},
      {"True", "a bool"},
      {"TRUE", "a bool"},
      {"false", "a bool"},
      {"FALSE", "a bool"},
      {"0", "a number"},
      {"-12", "a number"},
      {"+7", "a number"},
      {"1.", "a number"},
      {".5", "a number"},
      {"-.5e+3", "a number"},
      {"1e5", "a number"},
      {"1E-5", "a number"},
      {"99999999999999999999", "a number"},
      {"tRue", ""},
      {"nul", ""},
      {"0x1F", ""},
      {".", ""},
      {"-", ""},
      {"+", ""},
      {"1e", ""},
      {"1e+", ""},
      {"e5", ""},
      {".e5", ""},
      {"1.2.3", ""},
      {"1_000", ""},
      {"--1", ""},
      {"1 2", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.scalar);
    temp_file f(std::string("exempt_users: [") + r.scalar + "]\n");
    const auto loaded = load_config_file(f.path);
    if (*r.got == '\0') {
      REQUIRE_MESSAGE(loaded.has_value(), (loaded ? std::string() : loaded.error().message));
      CHECK(loaded->exempt_users == std::vector<std::string>{r.scalar});
    } else {
      CHECK_FALSE(loaded.has_value());
      CHECK(loaded.error().message.find(std::string("got ") + r.got) != std::string::npos);
    }
  }
}

TEST_CASE("duplicate keys are found in maps of any size") {
  std::string text = "unknown:\n";
  for (int i = 0; i < 20000; ++i) text += "  k" + std::to_string(i) + ": 1\n";
  text += "  k7: 2\n";
  temp_file f(text);
  const auto r = load_config_file(f.path);
  CHECK_FALSE(r.has_value());
  CHECK(r.error().message.find("unknown.k7: duplicate key") != std::string::npos);
}

TEST_CASE("a deeply nested file is refused before yaml-cpp parses it, naming the line") {
  // yaml-cpp recurses per level; the fuzz stage's artifact was 3822 '[' (too slow, not a crash).
  temp_file flow("enabled: true\nexempt_users: " + std::string(3822, '[') + "\n");
  auto r = load_config_file(flow.path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == flow.path.string() + ": YAML nests deeper than 256 levels at line 2");
  std::string dashes;
  for (int i = 0; i < 300; ++i) dashes += "- ";
  temp_file block("exempt_users:\n" + dashes + "x\n");
  r = load_config_file(block.path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == block.path.string() + ": YAML nests deeper than 256 levels at line 2");
  // Brackets in strings and block scalars are not nesting.
  temp_file text("exempt_users: [\"" + std::string(3822, '[') + "\"]\nlabel_key: >-\n  " +
                 std::string(3822, '{') + "\n");
  r = load_config_file(text.path);
  CHECK_FALSE(r.has_value());  // the label key is invalid, and the error says so
  CHECK(r.error().message.find("nests deeper") == std::string::npos);
  CHECK(r.error().message.find("label_key") != std::string::npos);
}

TEST_CASE("aliases: a cycle or an alias bomb is a clear error, not a crash or gigabytes") {
  // yaml-cpp links an alias to the node it names, even from inside that node.
  temp_file cycle("exempt_users: &u [*u]\n");
  auto r = load_config_file(cycle.path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.rfind(cycle.path.string() + ": exempt_users", 0) == 0);
  CHECK(r.error().message.find("values nest deeper than 256 levels through aliases") !=
        std::string::npos);
  std::string bomb = mlnetpol::testing::alias_levels(9, "a");
  bomb += "exempt_users: *l9\n";
  temp_file lol(bomb);
  r = load_config_file(lol.path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("aliases repeat more than the text's size allows") !=
        std::string::npos);
  // Aliases within reason are YAML like any other.
  temp_file shared("exempt_users: &u [alice, bob]\nexempt_groups: *u\n");
  r = load_config_file(shared.path);
  REQUIRE(r.has_value());
  CHECK(r->exempt_groups == std::vector<std::string>{"alice", "bob"});
}
