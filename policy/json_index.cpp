#include "policy/json_index.hpp"

#include <algorithm>

namespace mlnetpol::policy {
namespace {

std::string_view name_of(const rapidjson::Value& name) {
  return {name.GetString(), name.GetStringLength()};
}

const rapidjson::Value* find_small(const rapidjson::Value& object, std::string_view name) {
  for (const auto& m : object.GetObject()) {
    if (name_of(m.name) == name) return &m.value;
  }
  return nullptr;
}

}  // namespace

member_index::member_index(const rapidjson::Value& object) {
  sorted_.reserve(object.MemberCount());
  for (const auto& m : object.GetObject()) sorted_.emplace_back(name_of(m.name), &m.value);
  // Stable: among equal names the first member stays first, as FindMember finds it.
  std::stable_sort(sorted_.begin(), sorted_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

const rapidjson::Value* member_index::find(std::string_view name) const {
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), name,
                                   [](const auto& m, std::string_view n) { return m.first < n; });
  return it != sorted_.end() && it->first == name ? it->second : nullptr;
}

bool json_equal(const rapidjson::Value& a, const rapidjson::Value& b) {
  // Pairs still to compare; the answer is their conjunction, so the order does not matter.
  std::vector<std::pair<const rapidjson::Value*, const rapidjson::Value*>> pending{{&a, &b}};
  while (!pending.empty()) {
    const auto [lhs, rhs] = pending.back();
    pending.pop_back();
    if (lhs->GetType() != rhs->GetType()) return false;
    if (lhs->IsArray()) {
      if (lhs->Size() != rhs->Size()) return false;
      for (rapidjson::SizeType i = 0; i < lhs->Size(); ++i)
        pending.emplace_back(&(*lhs)[i], &(*rhs)[i]);
    } else if (lhs->IsObject()) {
      if (lhs->MemberCount() != rhs->MemberCount()) return false;
      if (rhs->MemberCount() <= small_object_members) {
        for (const auto& m : lhs->GetObject()) {
          const rapidjson::Value* other = find_small(*rhs, name_of(m.name));
          if (other == nullptr) return false;
          pending.emplace_back(&m.value, other);
        }
      } else {
        const member_index index(*rhs);
        for (const auto& m : lhs->GetObject()) {
          const rapidjson::Value* other = index.find(name_of(m.name));
          if (other == nullptr) return false;
          pending.emplace_back(&m.value, other);
        }
      }
    } else if (*lhs != *rhs) {  // scalars: RapidJSON's own comparison
      return false;
    }
  }
  return true;
}

}  // namespace mlnetpol::policy
