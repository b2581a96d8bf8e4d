#pragma once
// A read-only list of strings viewed where they already live: a vector of std::string (tests,
// configuration) or the string array of a decoded review (request.userInfo.groups). Admission
// hands the engine the groups without copying them per request.
#include <cstddef>
#include <iterator>
#include <ranges>
#include <string_view>
#include <type_traits>

namespace mlnetpol::policy {

class string_list {
 public:
  // The i-th string of items (items as given to the constructor).
  using accessor = std::string_view (*)(const void* items, std::size_t i);

  string_list() = default;
  string_list(const void* items, std::size_t size, accessor at)
      : items_(items), size_(size), at_(at) {}
  // Any contiguous range of strings (std::vector<std::string>, a span of views): viewed, not
  // copied, so the range must outlive the list.
  template <std::ranges::contiguous_range R>
    requires(!std::is_same_v<std::remove_cvref_t<R>, string_list> &&
             std::is_convertible_v<const std::ranges::range_value_t<R>&, std::string_view>)
  string_list(const R& items)  // NOLINT(google-explicit-constructor): a view, like std::span
      : items_(std::ranges::data(items)),
        size_(std::ranges::size(items)),
        at_(&element<std::ranges::range_value_t<R>>) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view operator[](std::size_t i) const { return at_(items_, i); }

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::string_view;

    iterator() = default;
    iterator(const string_list* list, std::size_t i) : list_(list), i_(i) {}
    std::string_view operator*() const { return (*list_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator was = *this;
      ++i_;
      return was;
    }
    bool operator==(const iterator& other) const { return i_ == other.i_; }

   private:
    const string_list* list_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size_}; }

  friend bool operator==(const string_list& a, const string_list& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }

 private:
  template <typename T>
  static std::string_view element(const void* items, std::size_t i) {
    return static_cast<const T*>(items)[i];
  }

  const void* items_ = nullptr;
  std::size_t size_ = 0;
  accessor at_ = nullptr;
};

}  // namespace mlnetpol::policy
