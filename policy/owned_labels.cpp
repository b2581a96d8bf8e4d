#include "policy/owned_labels.hpp"

#include <algorithm>
#include <utility>

#include "common/json.hpp"
#include "policy/policy_set.hpp"

namespace mlnetpol::policy {
namespace {

using entry = std::pair<std::string_view, std::string_view>;

// The object's string-valued mlnetpol.io labels, sorted by key, each key once (its first value).
std::vector<entry> owned_entries(const rapidjson::Value* object) {
  std::vector<entry> out;
  const rapidjson::Value* labels =
      json::json_member(json::json_member(object, "metadata"), "labels");
  if (labels == nullptr || !labels->IsObject()) return out;
  for (const auto& m : labels->GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsString() || !is_owned_label_key(key)) continue;
    out.emplace_back(key, std::string_view(m.value.GetString(), m.value.GetStringLength()));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const entry& a, const entry& b) { return a.first < b.first; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const entry& a, const entry& b) { return a.first == b.first; }),
            out.end());
  return out;
}

std::optional<std::string> copy(const entry* e) {
  if (e == nullptr) return std::nullopt;
  return std::string(e->second);
}

}  // namespace

std::vector<std::string_view> wanted_role_labels(const namespace_roles& roles) {
  std::vector<std::string_view> out;
  if (!roles.secured && !roles.ml()) return out;
  out.push_back(secured_label);
  if (roles.platform) out.push_back(platform_label);
  if (roles.tenant) out.push_back(tenant_label);
  if (roles.training) out.push_back(training_label);
  if (roles.inference) out.push_back(inference_label);
  return out;
}

bool is_owned_label_key(std::string_view key) {
  return key.starts_with(owned_label_prefix);
}

bool is_privileged(const config& cfg, std::string_view username, const string_list& groups) {
  if (username == cfg.service_account) return true;
  return std::any_of(groups.begin(), groups.end(), [&](std::string_view g) {
    return std::find(cfg.admin_groups.begin(), cfg.admin_groups.end(), g) != cfg.admin_groups.end();
  });
}

std::vector<label_change> foreign_label_changes(const rapidjson::Value* old_object,
                                                const rapidjson::Value* object,
                                                const namespace_roles& roles) {
  const std::vector<entry> before = owned_entries(old_object);
  const std::vector<entry> after = owned_entries(object);
  const std::vector<std::string_view> wanted = wanted_role_labels(roles);
  std::vector<label_change> out;
  auto judge = [&](std::string_view key, const entry* was, const entry* is) {
    if (was != nullptr && is != nullptr && was->second == is->second) return;
    // mlnetpol's mutation adds or puts back its role labels with the requester's identity.
    if (is != nullptr && is->second == role_label_value &&
        std::find(wanted.begin(), wanted.end(), key) != wanted.end()) {
      return;
    }
    out.push_back({std::string(key), copy(was), copy(is)});
  };
  // A merge of the two sorted lists.
  std::size_t i = 0, j = 0;
  while (i < before.size() || j < after.size()) {
    if (j == after.size() || (i < before.size() && before[i].first < after[j].first)) {
      judge(before[i].first, &before[i], nullptr);
      ++i;
    } else if (i == before.size() || after[j].first < before[i].first) {
      judge(after[j].first, nullptr, &after[j]);
      ++j;
    } else {
      judge(before[i].first, &before[i], &after[j]);
      ++i;
      ++j;
    }
  }
  return out;
}

std::optional<label_change> policy_set_annotation_change(const rapidjson::Value* old_object,
                                                         const rapidjson::Value* object) {
  auto value = [](const rapidjson::Value* o) -> std::optional<std::string> {
    const auto v = json::map_value(json::json_member(o, "metadata"), "annotations",
                                   policy_set_annotation);
    if (!v) return std::nullopt;
    return std::string(*v);
  };
  std::optional<std::string> before = value(old_object);
  std::optional<std::string> after = value(object);
  if (before == after) return std::nullopt;
  return label_change{std::string(policy_set_annotation), std::move(before), std::move(after), true};
}

}  // namespace mlnetpol::policy
