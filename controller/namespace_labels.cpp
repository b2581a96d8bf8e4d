#include "controller/namespace_labels.hpp"

#include <algorithm>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policy/inference.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"
#include "policy/owned_labels.hpp"

namespace mlnetpol::controller {
namespace {

std::string str(std::string_view s) {
  return std::string(s);
}

}  // namespace

std::string label_changes::merge_patch() const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("labels");
  w.StartObject();
  for (const auto& [k, v] : set) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  for (const auto& k : remove) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.Null();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

label_changes namespace_label_changes(const policy::config& cfg, std::string_view namespace_name,
                                      const label_map& current) {
  return namespace_label_changes(cfg, policy::roles_of(cfg, namespace_name), current);
}

label_changes namespace_label_changes(const policy::config& cfg,
                                      const policy::namespace_roles& roles,
                                      const label_map& current) {
  // The same keys and values the engine's namespace mutation sets.
  const std::vector<std::string_view> wanted = policy::wanted_role_labels(roles);
  const bool enrolled = !wanted.empty();
  label_changes out;
  for (const std::string_view key : policy::role_label_keys) {
    const auto it = current.find(str(key));
    if (std::find(wanted.begin(), wanted.end(), key) != wanted.end()) {
      if (it == current.end() || it->second != policy::role_label_value) {
        out.set[str(key)] = str(policy::role_label_value);
      }
    } else if (it != current.end()) {
      out.remove.push_back(str(key));
    }
  }
  if (enrolled) {
    if (const auto type = policy::namespace_workload_type(roles)) {
      // A value someone set stays (the engine only warns about it).
      if (!current.contains(cfg.label_key)) out.set[cfg.label_key] = str(*type);
    }
  }
  return out;
}

bool has_owned_label(const label_map& labels) {
  for (const std::string_view key : policy::role_label_keys) {
    if (labels.contains(std::string(key))) return true;
  }
  return false;
}

}  // namespace mlnetpol::controller
