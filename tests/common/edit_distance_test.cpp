#include "common/edit_distance.hpp"

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
