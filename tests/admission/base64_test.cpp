#include "admission/base64.hpp"

#include <string>

#include <doctest/doctest.h>

using mlnetpol::admission::base64_append;
using mlnetpol::admission::base64_decode;
using mlnetpol::admission::base64_encode;
using mlnetpol::admission::base64_encoded_size;

TEST_CASE("base64_encode matches the RFC 4648 test vectors") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64 uses the standard alphabet and round-trips every byte") {
  CHECK(base64_encode("\xfb\xff\xbf") == "+/+/");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const auto encoded = base64_encode(all.substr(0, n));
    CHECK(encoded.size() == base64_encoded_size(n));
    CHECK(base64_decode(encoded) == all.substr(0, n));
  }
}

TEST_CASE("base64_append appends after existing text") {
  std::string out = "x:";
  base64_append(out, "foob");
  CHECK(out == "x:Zm9vYg==");
}

TEST_CASE("base64_decode rejects anything but canonical padded standard base64") {
  CHECK(base64_decode("Zm9vYg==") == std::string("foob"));
  CHECK_FALSE(base64_decode("Zm9vYg").has_value());      // no padding
  CHECK_FALSE(base64_decode("Zm9v\nYg==").has_value());  // whitespace
  CHECK_FALSE(base64_decode("-_-_").has_value());        // URL alphabet
  CHECK_FALSE(base64_decode("Zg=a").has_value());        // padding in the middle
  CHECK_FALSE(base64_decode("Z===").has_value());
  CHECK_FALSE(base64_decode("Zh==").has_value());      // stray bits: canonical is Zg==
  CHECK_FALSE(base64_decode("Zg==Zg==").has_value());  // padding before the end
}
