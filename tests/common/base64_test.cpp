#include "common/base64.hpp"

#include <string>

#include <doctest/doctest.h>

using mlnetpol::base64_append;
using mlnetpol::base64_decode;
using mlnetpol::base64_encode;
using mlnetpol::base64_encoded_size;
using mlnetpol::base64_form;

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
    CHECK(base64_decode(encoded, base64_form::lenient) == all.substr(0, n));
  }
}

TEST_CASE("base64_append appends after existing text") {
  std::string out = "x:";
  base64_append(out, "foob");
  CHECK(out == "x:Zm9vYg==");
}

TEST_CASE("base64_decode rejects anything but canonical padded standard base64") {
  CHECK(base64_decode("Zm9vYg==") == std::string("foob"));
  CHECK(base64_decode("") == std::string());
  CHECK_FALSE(base64_decode("Zm9vYg").has_value());      // no padding
  CHECK_FALSE(base64_decode("Zm9v\nYg==").has_value());  // whitespace
  CHECK_FALSE(base64_decode("-_-_").has_value());        // URL alphabet
  CHECK_FALSE(base64_decode("Zg=a").has_value());        // padding in the middle
  CHECK_FALSE(base64_decode("Z===").has_value());
  CHECK_FALSE(base64_decode("Zh==").has_value());      // stray bits: canonical is Zg==
  CHECK_FALSE(base64_decode("Zg==Zg==").has_value());  // padding before the end
  CHECK_FALSE(base64_decode("Zm9v=").has_value());     // padding after a whole group
  CHECK_FALSE(base64_decode("Zg=").has_value());       // padding cut short
  CHECK_FALSE(base64_decode("====").has_value());
}

TEST_CASE("lenient base64_decode skips whitespace and forgives padding, nothing else") {
  const auto lenient = [](std::string_view text) {
    return base64_decode(text, base64_form::lenient);
  };
  CHECK(lenient("Zm9v\nYg==\n") == std::string("foob"));
  CHECK(lenient("  Zm9v\r\n\tYmFy ") == std::string("foobar"));
  CHECK(lenient("Zg= =") == std::string("f"));
  CHECK(lenient("Zm9vYg") == std::string("foob"));  // no padding
  CHECK(lenient("Zm9vYmE") == std::string("fooba"));
  CHECK(lenient("Zh==") == std::string("f"));  // stray bits ignored, as Go's StdEncoding does
  CHECK(lenient(" \n") == std::string());
  CHECK_FALSE(lenient("-_-_").has_value());
  CHECK_FALSE(lenient("Zm9v\fYg==").has_value());  // only spaces, tabs and line breaks are skipped
  CHECK_FALSE(lenient("Zg=a").has_value());
  CHECK_FALSE(lenient("Z").has_value());  // one character is no byte
  CHECK_FALSE(lenient("Z===").has_value());
  CHECK_FALSE(lenient("Zg==Zg==").has_value());
  CHECK_FALSE(lenient("Zm9v=").has_value());
  CHECK_FALSE(lenient("Zg=").has_value());
}
