#include "common/json_parse.hpp"

#include <string>

#include <doctest/doctest.h>

using mlnetpol::json::default_max_depth;
using mlnetpol::json::find_invalid_utf8;
using mlnetpol::json::json_type_name;
using mlnetpol::json::parse;
using mlnetpol::json::parse_insitu;
using mlnetpol::json::parse_options;

namespace {

parse_options max_depth(unsigned depth) {
  parse_options options;
  options.max_depth = depth;
  return options;
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += R"({"a":)";
  text += "1";
  text += std::string(depth, '}');
  return text;
}

}  // namespace

TEST_CASE("parse parses a document into the given Document") {
  rapidjson::Document doc;
  REQUIRE(parse(doc, R"({"a":[1,"two",null,true],"b":{"c":"d"}})").has_value());
  REQUIRE(doc.IsObject());
  CHECK(doc["a"].Size() == 4);
  CHECK(std::string(doc["a"][1].GetString()) == "two");
  CHECK(std::string(doc["b"]["c"].GetString()) == "d");
}

TEST_CASE("parse replaces the previous content of the document") {
  rapidjson::Document doc;
  REQUIRE(parse(doc, "[1,2]").has_value());
  REQUIRE(parse(doc, R"("x")").has_value());
  CHECK(doc.IsString());
  REQUIRE_FALSE(parse(doc, "{").has_value());
  CHECK(doc.IsNull());
}

TEST_CASE("parse reports where invalid JSON stops, with RapidJSON's message") {
  rapidjson::Document doc;
  const auto error = parse(doc, R"({"a":1,})");
  REQUIRE_FALSE(error.has_value());
  CHECK(error.error().message == "invalid JSON at offset 7: Missing a name for object member.");

  const auto empty = parse(doc, "");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().message == "invalid JSON at offset 0: The document is empty.");

  const auto trailing = parse(doc, "{} {}");
  REQUIRE_FALSE(trailing.has_value());
  CHECK(trailing.error().message.find("The document root must not be followed by other values") !=
        std::string::npos);
}

TEST_CASE("parse rejects bytes after an embedded NUL") {
  rapidjson::Document doc;
  const std::string text("{}\0{\"x\":1}", 10);
  const auto error = parse(doc, text);
  REQUIRE_FALSE(error.has_value());
  CHECK(error.error().message ==
        "invalid JSON at offset 2: The document root must not be followed by other values.");
}

TEST_CASE("parse rejects invalid UTF-8") {
  rapidjson::Document doc;
  const auto error = parse(doc, "[\"\xff\xfe\"]");
  REQUIRE_FALSE(error.has_value());
  CHECK(error.error().message == "invalid UTF-8 at offset 2");
  CHECK(parse(doc, "[\"gr\xc3\xbc\xc3\x9f\"]").has_value());

  parse_options lenient;
  lenient.validate_utf8 = false;
  CHECK(parse(doc, "[\"\xff\xfe\"]", lenient).has_value());
  CHECK(doc[0].GetStringLength() == 2);
}

TEST_CASE("parse accepts nesting up to the limit and rejects one level more") {
  rapidjson::Document doc;
  CHECK(parse(doc, nested_arrays(default_max_depth)).has_value());
  CHECK(parse(doc, nested_objects(default_max_depth)).has_value());

  const auto arrays = parse(doc, nested_arrays(default_max_depth + 1));
  REQUIRE_FALSE(arrays.has_value());
  CHECK(arrays.error().message == "JSON nesting deeper than 256 at offset 256");
  const auto objects = parse(doc, nested_objects(default_max_depth + 1));
  REQUIRE_FALSE(objects.has_value());
  CHECK(objects.error().message.rfind("JSON nesting deeper than 256", 0) == 0);
}

TEST_CASE("parse counts depth, not the number of containers") {
  rapidjson::Document doc;
  std::string wide = "[";
  for (int i = 0; i < 5000; ++i) wide += (i ? ",[[]]" : "[[]]");
  wide += "]";
  CHECK(parse(doc, wide, max_depth(3)).has_value());
  CHECK_FALSE(parse(doc, "[[[[]]]]", max_depth(3)).has_value());
}

TEST_CASE("parse survives a million open brackets") {
  rapidjson::Document doc;
  const auto error = parse(doc, std::string(1'000'000, '['));
  REQUIRE_FALSE(error.has_value());
  CHECK(error.error().message == "JSON nesting deeper than 256 at offset 256");
  const auto unlimited = parse(doc, std::string(1'000'000, '['), max_depth(2'000'000));
  REQUIRE_FALSE(unlimited.has_value());  // iterative: runs out of input, not out of stack
  CHECK(unlimited.error().message.rfind("invalid JSON at offset 1000000", 0) == 0);
}

TEST_CASE("json_type_name names every JSON type") {
  rapidjson::Document doc;
  REQUIRE(parse(doc, R"([null,true,false,{},[],"s",1,1.5])").has_value());
  const char* want[] = {"null",     "a boolean", "a boolean", "an object",
                        "an array", "a string",  "a number",  "a number"};
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i)
    CHECK(std::string(json_type_name(doc[i])) == want[i]);
}

TEST_CASE("parse_insitu parses in place: strings point into the text") {
  std::string text = R"({"a":"x\ty","b":[1,{"c":null}]})";
  rapidjson::Document doc;
  REQUIRE(parse_insitu(doc, text.data(), text.size()).has_value());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["a"].GetString()) == "x\ty");
  const char* a = doc["a"].GetString();
  CHECK(a >= text.data());
  CHECK(a < text.data() + text.size());
  CHECK(doc["b"][1]["c"].IsNull());
}

TEST_CASE("parse_insitu has the same errors and limits") {
  rapidjson::Document doc;
  std::string bad = R"({"a":1,})";
  const auto error = parse_insitu(doc, bad.data(), bad.size());
  REQUIRE_FALSE(error.has_value());
  CHECK(error.error().message == "invalid JSON at offset 7: Missing a name for object member.");

  std::string nul("{}\0{}", 5);
  const auto after_nul = parse_insitu(doc, nul.data(), nul.size());
  REQUIRE_FALSE(after_nul.has_value());
  CHECK(after_nul.error().message.rfind("invalid JSON at offset 2: ", 0) == 0);

  std::string deep(1'000'000, '[');
  const auto too_deep = parse_insitu(doc, deep.data(), deep.size());
  REQUIRE_FALSE(too_deep.has_value());
  CHECK(too_deep.error().message == "JSON nesting deeper than 256 at offset 256");

  std::string invalid = "[\"\xff\"]";
  CHECK_FALSE(parse_insitu(doc, invalid.data(), invalid.size()).has_value());
  parse_options lenient;
  lenient.validate_utf8 = false;
  invalid = "[\"\xff\"]";
  CHECK(parse_insitu(doc, invalid.data(), invalid.size(), lenient).has_value());
}

TEST_CASE("find_invalid_utf8 accepts UTF-8 and finds the first bad byte") {
  CHECK_FALSE(find_invalid_utf8("").has_value());
  CHECK_FALSE(find_invalid_utf8("plain ascii, longer than one word of eight").has_value());
  CHECK_FALSE(
      find_invalid_utf8("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80 \xf4\x8f\xbf\xbf").has_value());
  CHECK(find_invalid_utf8("\xff") == 0u);
  CHECK(find_invalid_utf8("abc\x80") == 3u);               // stray continuation byte
  CHECK(find_invalid_utf8("\xc0\x80") == 0u);              // overlong NUL
  CHECK(find_invalid_utf8("\xe0\x80\xaf") == 0u);          // overlong '/'
  CHECK(find_invalid_utf8("\xf0\x82\x82\xac") == 0u);      // overlong euro sign
  CHECK(find_invalid_utf8("ok\xed\xa0\x80") == 2u);        // surrogate U+D800
  CHECK(find_invalid_utf8("\xf4\x90\x80\x80") == 0u);      // above U+10FFFF
  CHECK(find_invalid_utf8("\xf8\x88\x80\x80\x80") == 0u);  // five-byte form
  CHECK(find_invalid_utf8("abcdefgh\xe2\x82") == 8u);      // cut short at the end
  CHECK(find_invalid_utf8("\xe2\x82x") == 0u);             // cut short mid-text
  // Offsets are exact on both sides of the word-at-a-time scan.
  for (std::size_t at = 0; at < 40; ++at) {
    std::string text(48, 'a');
    text[at] = '\xff';
    CHECK(find_invalid_utf8(text) == at);
  }
}
