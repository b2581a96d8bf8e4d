#include "controller/namespace_labels.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policy/inference.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"

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
  const bool enrolled = roles.secured || roles.ml();
  label_changes out;
  auto want = [&](std::string_view key, bool wanted) {
    const auto it = current.find(str(key));
    if (wanted && (it == current.end() || it->second != "true")) out.set[str(key)] = "true";
    if (!wanted && it != current.end()) out.remove.push_back(str(key));
  };
  // The same keys and values the engine's namespace mutation sets.
  want(policy::secured_label, enrolled);
  want(policy::platform_label, enrolled && roles.platform);
  want(policy::tenant_label, enrolled && roles.tenant);
  want(policy::training_label, enrolled && roles.training);
  want(policy::inference_label, enrolled && roles.inference);
  if (enrolled) {
    if (const auto type = policy::namespace_workload_type(roles)) {
      // A value someone set stays (the engine only warns about it).
      if (!current.contains(cfg.label_key)) out.set[cfg.label_key] = str(*type);
    }
  }
  return out;
}

bool has_owned_label(const label_map& labels) {
  for (std::string_view key : {policy::secured_label, policy::platform_label, policy::tenant_label,
                               policy::training_label, policy::inference_label}) {
    if (labels.contains(std::string(key))) return true;
  }
  return false;
}

}  // namespace mlnetpol::controller
