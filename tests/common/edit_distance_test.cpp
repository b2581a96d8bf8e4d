#include "common/edit_distance.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include <doctest/doctest.h>

using mlnetpol::edit_distance;

TEST_CASE("edit_distance is Levenshtein's") {
  edit_distance d;
  CHECK(d("", "") == 0);
  CHECK(d("abc", "") == 3);
  CHECK(d("", "abc") == 3);
  CHECK(d("kitten", "sitting") == 3);
  CHECK(d("enforcement", "enforcement_mode") == 5);
  CHECK(d("--max-conections", "--max-connections") == 1);
  CHECK(d("Enforcement", "enforcement") == 1);
}

TEST_CASE("edit_distance ignores case when asked and stops past the limit") {
  edit_distance d;
  CHECK(d("Enforcement", "enforcement", {.ignore_case = true}) == 0);
  CHECK(d("ABC", "abd", {.ignore_case = true}) == 1);
  // Past the limit: limit + 1, whether the lengths alone show it or the rows do.
  CHECK(d("a", "abcdefgh", {.limit = 3}) == 4);
  CHECK(d("abcdefgh", "hgfedcba", {.limit = 2}) == 3);
  CHECK(d("kitten", "sitting", {.limit = 3}) == 3);
  // The rows kept between calls do not leak into the next comparison.
  CHECK(d("a much longer word here", "b") == 23);
  CHECK(d("ab", "ab") == 0);
}

// The limited distance is min(distance, limit + 1) for every pair, whichever shortcut answers
// (length, bag of characters, a row's minimum): checked against the full table.
TEST_CASE("edit_distance with a limit agrees with the full table") {
  edit_distance d, full;
  std::uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  auto word = [&] {
    std::string w(next() % 12, ' ');
    for (char& c : w) c = "abcAB_-"[next() % 7];
    return w;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string a = word(), b = word();
    const bool ic = next() % 2 == 0;
    const std::size_t limit = next() % 6;
    const std::size_t exact = full(a, b, {.ignore_case = ic});
    INFO(a, " / ", b, " limit ", limit, " ignore_case ", ic);
    REQUIRE(d(a, b, {.ignore_case = ic, .limit = limit}) == std::min(exact, limit + 1));
  }
  // The bag alone: the same length, no row past the limit early, other characters.
  CHECK(d("abcdefgh", "ijklmnop", {.limit = 3}) == 4);
}
