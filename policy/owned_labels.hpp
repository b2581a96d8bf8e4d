#pragma once
// The mlnetpol.io labels of namespaces are mlnetpol's: which ones a namespace's roles give it (the
// one definition the label engine's mutation and the controller both apply), and which changes of
// a Namespace request are not mlnetpol's own. The per-namespace enforcement override is among them:
// it is an administrator's tool, so a tenant who may patch its Namespace must not turn it off.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/config.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"
#include "policy/string_list.hpp"

namespace mlnetpol::policy {

// Every label key under this prefix is mlnetpol's (the override and the role labels included).
inline constexpr std::string_view owned_label_prefix = "mlnetpol.io/";

// The role labels mlnetpol keeps on namespaces, secured first.
inline constexpr std::array<std::string_view, 5> role_label_keys{
    secured_label, platform_label, tenant_label, training_label, inference_label};

// The role label keys a namespace with these roles carries (each with the value "true"):
// mlnetpol.io/secured for every namespace with a role, then one per role; none without a role.
std::vector<std::string_view> wanted_role_labels(const namespace_roles& roles);
inline constexpr std::string_view role_label_value = "true";

bool is_owned_label_key(std::string_view key);

// mlnetpol's own service account or a member of admin_groups: who may change what mlnetpol owns
// (managed policies, the mlnetpol.io labels).
bool is_privileged(const config& cfg, std::string_view username, const string_list& groups);

// One mlnetpol.io label a request changes; nullopt: absent on that side.
struct label_change {
  std::string key;
  std::optional<std::string> before;
  std::optional<std::string> after;
  bool annotation = false;  // the policy-set annotation rather than a label
};

// The mlnetpol.io labels whose value differs between old_object and object (either may be null:
// CREATE, DELETE), except changes to exactly the value mlnetpol sets for these roles (its own
// mutation runs under the requester's identity). Sorted by key. A key repeated in one object counts
// with its first string value, as the other readers see it; n log n in the number of owned keys.
std::vector<label_change> foreign_label_changes(const rapidjson::Value* old_object,
                                                const rapidjson::Value* object,
                                                const namespace_roles& roles);

// The policy-set annotation (policy_set.hpp) when a Namespace request adds, changes or removes it:
// it tells every replica the namespace's set is in place, so only mlnetpol may write it (a tenant
// who forged it would have its pods start before their policies exist).
std::optional<label_change> policy_set_annotation_change(const rapidjson::Value* old_object,
                                                         const rapidjson::Value* object);

}  // namespace mlnetpol::policy
