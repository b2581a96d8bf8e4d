#pragma once
// Member lookups and comparisons over RapidJSON values that stay n log n: FindMember is a linear
// scan, so looking every member of one object up in another (which RapidJSON's `==` on objects
// does) is quadratic in the member count, and a request of 50,000 labels took seconds.
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace mlnetpol::policy {

// The members of one object sorted by name. find() answers what FindMember answers (the first
// member of that name, with duplicate names) in O(log n). Views point into the object.
class member_index {
 public:
  explicit member_index(const rapidjson::Value& object);
  const rapidjson::Value* find(std::string_view name) const;

 private:
  std::vector<std::pair<std::string_view, const rapidjson::Value*>> sorted_;
};

// Objects this small are searched directly: an index would cost more than it saves.
inline constexpr std::size_t small_object_members = 16;

// a == b exactly as RapidJSON defines it (objects: same size and every member of a equals the
// first member of b with its name; numbers by value), in O(n log n) and without recursion.
bool json_equal(const rapidjson::Value& a, const rapidjson::Value& b);

}  // namespace mlnetpol::policy
