#include "policy/name_rules.hpp"

#include <doctest/doctest.h>

#include <string>

#include <rapidjson/document.h>

#include "policy/config_parse.hpp"
#include "policy/labels.hpp"
#include "policy/render/render.hpp"

using namespace mlnetpol::policy;

namespace {

// What the configuration parser says about api_server_cidrs: [cidr].
bool parser_accepts(const std::string& cidr) {
  rapidjson::Document d;
  d.Parse(("{\"api_server_cidrs\":[\"" + cidr + "\"]}").c_str());
  REQUIRE_FALSE(d.HasParseError());
  return parse_config(d).ok();
}

// What the renderer's check says about the same value.
bool renderer_accepts(const std::string& cidr) {
  config cfg;
  cfg.api_server_cidrs = {cidr};
  return validate_render_config(cfg).empty();
}

}  // namespace

TEST_CASE("CIDRs: the parser and the renderer judge every value the same way") {
  struct row {
    const char* text;
    bool valid;
  };
  for (const row r :
       {row{"10.0.0.0/8", true}, row{"0.0.0.0/0", true}, row{"192.168.1.1/32", true},
        row{"fd00::/8", true}, row{"::/0", true}, row{"2001:db8:0:0:0:0:0:1/128", true},
        row{"010.0.0.0/8", false},  // leading zero: Go's ParseCIDR rejects it
        row{"10.0.0.0/08", false}, row{"10.0.0.0/33", false}, row{"10.0.0/8", false},
        row{"10.0.0.0", false}, row{"256.0.0.0/8", false}, row{"fd00::/129", false},
        row{":fd00::1/64", false}, row{"fd00::1:/64", false}, row{"fd00:::1/64", false},
        row{"1::2::3/64", false}, row{"/8", false}, row{"", false}}) {
    CAPTURE(r.text);
    CHECK(is_cidr(r.text) == r.valid);
    CHECK(parser_accepts(r.text) == r.valid);
    CHECK(renderer_accepts(r.text) == r.valid);
  }
  CHECK(is_ipv4_cidr("10.0.0.0/8"));
  CHECK_FALSE(is_ipv4_cidr("fd00::/8"));
  CHECK(is_ipv6_cidr("fd00::/8"));
}

TEST_CASE("ports and namespace names: one rule each") {
  CHECK_FALSE(is_port(0));
  CHECK(is_port(1));
  CHECK(is_port(65535));
  CHECK_FALSE(is_port(65536));
  config cfg;
  cfg.tenant_namespaces = {"Team-A"};
  CHECK_FALSE(validate_render_config(cfg).empty());
  rapidjson::Document d;
  d.Parse(R"({"tenant_namespaces":["Team-A"]})");
  CHECK_FALSE(parse_config(d).ok());
}

TEST_CASE("one definition of each label constant: labels.hpp and render.hpp together") {
  // render.hpp used to declare its own managed_by_label of another type (an ODR violation).
  CHECK(managed_by_label == "app.kubernetes.io/managed-by");
  CHECK(managed_by_value == "mlnetpol");
  CHECK(spec_hash_annotation == "mlnetpol.io/spec-hash");
}
