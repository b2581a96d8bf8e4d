// member_index and json_equal: the same answers as RapidJSON's FindMember and ==, without their
// quadratic member lookups and without recursion.
#include "policy/json_index.hpp"

#include <string>

#include <doctest/doctest.h>

using mlnetpol::policy::json_equal;
using mlnetpol::policy::member_index;
using mlnetpol::policy::small_object_members;

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// An object of n members "k0".."k{n-1}" in the given order, each with value i (or changed at one).
std::string object_of(std::size_t n, bool reversed, std::size_t changed = SIZE_MAX) {
  std::string s = "{";
  for (std::size_t j = 0; j < n; ++j) {
    const std::size_t i = reversed ? n - 1 - j : j;
    s += (j ? "," : "") + std::string("\"k") + std::to_string(i) +
         "\":" + std::to_string(i == changed ? 1000000 + i : i);
  }
  return s + "}";
}

}  // namespace

TEST_CASE("member_index: finds what FindMember finds, the first of duplicate names") {
  const auto d = parse(R"({"b":1,"a":2,"c":3,"a":4,"":5})");
  const member_index index(d);
  for (const char* name : {"a", "b", "c", ""}) {
    REQUIRE(index.find(name) != nullptr);
    CHECK(index.find(name) == &d.FindMember(name)->value);
  }
  CHECK(index.find("a")->GetInt() == 2);
  CHECK(index.find("d") == nullptr);
  CHECK(index.find("aa") == nullptr);
  const auto empty = parse("{}");
  CHECK(member_index(empty).find("a") == nullptr);
}

TEST_CASE("json_equal: RapidJSON's == on scalars, arrays and objects small and large") {
  const char* cases[][2] = {
      {"1", "1"},          {"1", "1.0"},          {"1", "2"},           {"\"a\"", "\"a\""},
      {"\"a\"", "\"b\""},  {"null", "false"},     {"true", "true"},     {"[1,2]", "[1,2]"},
      {"[1,2]", "[2,1]"},  {"[1]", "[1,1]"},      {"{}", "[]"},         {"{}", "{}"},
      {R"({"a":1,"b":[{"c":null}]})", R"({"b":[{"c":null}],"a":1})"},
      {R"({"a":1,"b":[{"c":null}]})", R"({"b":[{"c":0}],"a":1})"},
      {R"({"a":1})", R"({"a":1,"b":2})"},       {R"({"a":1,"b":2})", R"({"a":1,"c":2})"},
      // Duplicate names: each member of a against the first of b's with its name.
      {R"({"x":1,"x":2})", R"({"x":1,"x":2})"}, {R"({"x":1,"x":1})", R"({"x":1,"x":2})"},
  };
  for (const auto& [l, r] : cases) {
    const auto a = parse(l), b = parse(r);
    INFO(l, " vs ", r);
    CHECK(json_equal(a, b) == (a == b));
    CHECK(json_equal(b, a) == (b == a));
  }
  // Past small_object_members the lookups go through an index: order still does not matter,
  // a changed value or a missing member still counts.
  for (const std::size_t n : {small_object_members, small_object_members + 1, std::size_t{500}}) {
    INFO("members: ", n);
    const auto a = parse(object_of(n, false));
    CHECK(json_equal(a, parse(object_of(n, true))));
    CHECK_FALSE(json_equal(a, parse(object_of(n, true, n / 2))));
    CHECK_FALSE(json_equal(a, parse(object_of(n + 1, true))));
  }
}

TEST_CASE("json_equal: nesting deeper than a recursive comparison's stack") {
  const std::size_t depth = 100000;
  const std::string open(depth, '['), close(depth, ']');
  rapidjson::Document a, b, c;
  // RapidJSON's own parser recurses too: the iterative one builds the nesting.
  a.Parse<rapidjson::kParseIterativeFlag>((open + "1" + close).c_str());
  b.Parse<rapidjson::kParseIterativeFlag>((open + "1" + close).c_str());
  c.Parse<rapidjson::kParseIterativeFlag>((open + "2" + close).c_str());
  REQUIRE_FALSE(a.HasParseError());
  CHECK(json_equal(a, b));
  CHECK_FALSE(json_equal(a, c));
}
