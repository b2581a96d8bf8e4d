#include "admission/json_patch_apply.hpp"

#include <doctest/doctest.h>

#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

using mlnetpol::admission::apply_patch;

namespace {

std::string text(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

}  // namespace

TEST_CASE("add, replace, remove and test apply in order") {
  rapidjson::Document d;
  d.Parse(R"({"metadata":{"labels":{"a":"1","b":"2"}}})");
  const auto r = apply_patch(d,
                             R"([{"op":"test","path":"/metadata/labels/a","value":"1"},
                                 {"op":"add","path":"/metadata/labels/c","value":"3"},
                                 {"op":"replace","path":"/metadata/labels/a","value":"x"},
                                 {"op":"remove","path":"/metadata/labels/b"}])",
                             d.GetAllocator());
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  CHECK(text(d) == R"({"metadata":{"labels":{"a":"x","c":"3"}}})");
}

TEST_CASE("a patch that does not apply says why") {
  rapidjson::Document d;
  d.Parse(R"({"metadata":{}})");
  auto& a = d.GetAllocator();
  CHECK(apply_patch(d, "{}", a).error().message == "the patch is not a JSON array");
  CHECK(apply_patch(d, R"([{"path":"/x"}])", a).error().message ==
        "a patch operation lacks op or path");
  CHECK(apply_patch(d, R"([{"op":"add","path":"/metadata/labels/x","value":"1"}])", a)
            .error()
            .message == "add /metadata/labels/x: no parent object");
  CHECK(apply_patch(d, R"([{"op":"replace","path":"/metadata/name","value":"n"}])", a)
            .error()
            .message == "replace /metadata/name: no such member");
  CHECK(apply_patch(d, R"([{"op":"remove","path":"/metadata/name"}])", a).error().message ==
        "remove /metadata/name: no such member");
  CHECK(apply_patch(d, R"([{"op":"test","path":"/metadata","value":1}])", a).error().message ==
        "test /metadata failed");
  CHECK(apply_patch(d, R"([{"op":"move","path":"/metadata","from":"/x"}])", a).error().message ==
        "unsupported patch operation move");
}
