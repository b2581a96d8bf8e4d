#include "common/json_writer.hpp"

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

TEST_CASE("append_json_escaped escapes across its chunks as RapidJSON's Writer does") {
  // json::put_escaped is tested on every byte value (tests/common/json_escape_test.cpp); this
  // wrapper escapes through a stack buffer a chunk at a time, so strings around the chunk size
  // and escapes at its edges, up to the worst case where every byte needs six.
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::vector<std::string> samples = {
      "", all, all + all, std::string(300, '\x01'), std::string(300, '\n'), std::string(300, 'a')};
  for (const std::size_t size : {127u, 128u, 129u, 255u, 256u, 257u}) {
    for (const std::size_t at : {size - 1, size - 2, std::size_t{126}, std::size_t{127}}) {
      std::string s(size, 'a');
      s[at] = '"';
      samples.push_back(s);
      s[at] = '\x1f';
      samples.push_back(s);
    }
  }
  for (const auto& s : samples) {
    std::string reference;
    mlnetpol::json::string_output stream(reference);
    mlnetpol::json::string_writer writer(stream);
    writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    std::string ours = "\"";
    mlnetpol::json::append_json_escaped(ours, s);
    ours += '"';
    CHECK(ours == reference);
  }
}

TEST_CASE("write gives a value as compact JSON, strings escaped") {
  rapidjson::Document d;
  d.SetObject();
  d.AddMember("a", rapidjson::Value("x\"y\n"), d.GetAllocator());
  rapidjson::Value list(rapidjson::kArrayType);
  list.PushBack(1, d.GetAllocator()).PushBack(rapidjson::Value(), d.GetAllocator());
  d.AddMember("b", list, d.GetAllocator());
  CHECK(mlnetpol::json::write(d) == R"({"a":"x\"y\n","b":[1,null]})");
}
