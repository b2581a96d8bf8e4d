#pragma once
// Levenshtein distance for "did you mean" suggestions (flags, configuration keys): the one copy.
// Header-only: the pure policy core links no common library.
#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace mlnetpol {

struct edit_distance_options {
  bool ignore_case = false;  // ASCII letters compared without case
  // Stop once the distance must exceed this (a row's minimum never decreases) and return limit + 1:
  // comparing a long unknown word with many candidates costs no full table per pair.
  std::size_t limit = std::numeric_limits<std::size_t>::max() - 1;
};

// Keeps its two rows between calls, so comparing one word with many costs no allocation per pair.
class edit_distance {
 public:
  std::size_t operator()(std::string_view a, std::string_view b,
                         const edit_distance_options& options = {});

 private:
  std::vector<std::size_t> prev_, cur_;
  std::array<int, 256> counts_{};  // the bag distance's per-character counts
};

namespace detail {

inline char lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace detail

inline std::size_t edit_distance::operator()(std::string_view a, std::string_view b,
                                             const edit_distance_options& options) {
  const std::size_t longer = std::max(a.size(), b.size());
  // The distance is at least the difference in length.
  if (longer - std::min(a.size(), b.size()) > options.limit) return options.limit + 1;
  // ... and at least the bag distance (characters one has beyond the other's, counted with
  // repeats): linear, it spares most pairs the quadratic table when a limit is set.
  if (options.limit < longer) {
    auto& counts = counts_;  // all zero between calls: the loops below put back what they touch
    auto key = [&](char c) {
      return static_cast<unsigned char>(options.ignore_case ? detail::lower_ascii(c) : c);
    };
    for (const char c : a) ++counts[key(c)];
    for (const char c : b) --counts[key(c)];
    std::size_t extra_a = 0, extra_b = 0;
    for (const char c : a) {
      int& n = counts[key(c)];
      if (n > 0) extra_a += static_cast<std::size_t>(n);
      if (n < 0) extra_b += static_cast<std::size_t>(-n);
      n = 0;  // counted once
    }
    for (const char c : b) {
      int& n = counts[key(c)];
      if (n < 0) extra_b += static_cast<std::size_t>(-n);
      n = 0;
    }
    if (std::max(extra_a, extra_b) > options.limit) return options.limit + 1;
  }
  prev_.resize(b.size() + 1);
  cur_.resize(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev_[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur_[0] = i;
    std::size_t row_min = cur_[0];
    const char ai = options.ignore_case ? detail::lower_ascii(a[i - 1]) : a[i - 1];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const char bj = options.ignore_case ? detail::lower_ascii(b[j - 1]) : b[j - 1];
      cur_[j] = std::min({prev_[j] + 1, cur_[j - 1] + 1, prev_[j - 1] + (ai == bj ? 0 : 1)});
      row_min = std::min(row_min, cur_[j]);
    }
    if (row_min > options.limit) return options.limit + 1;
    std::swap(prev_, cur_);
  }
  return std::min(prev_[b.size()], options.limit + 1);
}

}  // namespace mlnetpol
