#include "admission/policy_handlers.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "admission/json_patch.hpp"
#include "policy/config_parse.hpp"
#include "policy/engine.hpp"
#include "policy/warnings.hpp"

namespace mlnetpol::admission {
namespace {

using label_map = std::map<std::string, std::string>;

// Namespace name -> labels, learnt from the namespaces' own admission requests; read for the
// per-namespace enforcement override.
class namespace_cache {
 public:
  std::optional<label_map> find(const std::string& name) const {
    std::shared_lock lock(mutex_);
    const auto it = labels_.find(name);
    if (it == labels_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& name, label_map labels) {
    std::unique_lock lock(mutex_);
    labels_[name] = std::move(labels);
  }
  void erase(const std::string& name) {
    std::unique_lock lock(mutex_);
    labels_.erase(name);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, label_map> labels_;
};

bool is_namespace_request(const review_request& r) {
  return r.kind.group.empty() && r.kind.kind == "Namespace";
}

label_map labels_of(const rapidjson::Value* object) {
  label_map out;
  if (object == nullptr || !object->IsObject()) return out;
  const auto metadata = object->FindMember("metadata");
  if (metadata == object->MemberEnd() || !metadata->value.IsObject()) return out;
  const auto labels = metadata->value.FindMember("labels");
  if (labels == metadata->value.MemberEnd() || !labels->value.IsObject()) return out;
  for (const auto& m : labels->value.GetObject()) {
    if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
  }
  return out;
}

std::string namespace_name_of(const review_request& r) {
  for (const rapidjson::Value* o : {r.object, r.old_object}) {
    if (o == nullptr || !o->IsObject()) continue;
    const auto metadata = o->FindMember("metadata");
    if (metadata == o->MemberEnd() || !metadata->value.IsObject()) continue;
    const auto name = metadata->value.FindMember("name");
    if (name != metadata->value.MemberEnd() && name->value.IsString()) {
      return name->value.GetString();
    }
  }
  return r.name;
}

// Remembers a namespace's labels as admitted (with the engine's additions). Dry runs change
// nothing, so they are not recorded.
void remember_namespace(namespace_cache& cache, const review_request& r,
                        const std::vector<policy::map_entry>& additions) {
  if (!is_namespace_request(r) || r.dry_run || !r.sub_resource.empty()) return;
  const std::string name = namespace_name_of(r);
  if (name.empty()) return;
  if (r.operation == "DELETE") {
    cache.erase(name);
    return;
  }
  if (r.object == nullptr) return;
  label_map labels = labels_of(r.object);
  for (const auto& a : additions) {
    if (a.map_name == "labels" && a.metadata_path == std::vector<std::string>{"metadata"}) {
      labels[a.key] = a.value;
    }
  }
  cache.put(name, std::move(labels));
}

review_response to_response(const policy::decision& d) {
  review_response out;
  out.allowed = d.allowed;
  out.code = d.code;
  out.message = d.message;
  if (d.code == 403) out.reason = "Forbidden";
  out.warnings = d.warnings;
  out.audit_annotations = d.audit_annotations;
  out.decision = std::string(policy::to_string(d.result));
  const std::string mode(policy::to_string(d.mode));
  for (const auto& v : d.violations) out.violations.push_back({v.rule, mode});
  return out;
}

review_response internal_error(const char* what) {
  review_response out;
  out.allowed = false;
  out.code = 500;
  out.reason = "InternalError";
  out.message = std::string("mlnetpol internal error: ") + what;
  out.decision = "denied";
  return out;
}

}  // namespace

struct policy_handlers::state {
  mutable std::mutex config_mutex;
  std::shared_ptr<const policy::config> config;
  namespace_cache namespaces;

  class phase_handler : public handler {
   public:
    phase_handler(state& s, bool mutating) : state_(s), mutating_(mutating) {}
    review_response handle(const review_request& request) override {
      try {
        return evaluate(request);
      } catch (const std::exception& e) {
        return internal_error(e.what());
      } catch (...) {
        return internal_error("unknown exception");
      }
    }

   private:
    review_response evaluate(const review_request& request) {
      std::shared_ptr<const policy::config> cfg;
      {
        std::lock_guard lock(state_.config_mutex);
        cfg = state_.config;
      }
      std::optional<label_map> ns_labels;
      if (!is_namespace_request(request))
        ns_labels = state_.namespaces.find(request.namespace_name);

      policy::request_facts facts;
      facts.group = request.kind.group;
      facts.kind = request.kind.kind;
      facts.sub_resource = request.sub_resource;
      facts.operation = request.operation;
      facts.namespace_name = request.namespace_name;
      facts.name = request.name;
      facts.username = request.user.username;
      facts.groups = request.user.groups;
      facts.dry_run = request.dry_run;
      facts.object = request.object;
      facts.old_object = request.old_object;
      facts.namespace_labels = ns_labels ? &*ns_labels : nullptr;

      policy::decision d = mutating_ ? policy::mutate(facts, *cfg) : policy::validate(facts, *cfg);
      review_response response = to_response(d);
      if (!d.additions.empty() && request.object != nullptr) {
        auto patch = patch_for_entries(*request.object, d.additions);
        if (patch) {
          response.patch = std::move(*patch);
        } else {
          // An object whose metadata is malformed cannot be patched; admission decides on it
          // without the label (validation denies it when the label is required).
          response.warnings.push_back("mlnetpol could not label this object: " +
                                      patch.error().message);
          response.warnings = policy::fit_warnings(response.warnings);
        }
      }
      if (mutating_ && response.patch.empty() && response.decision == "patched") {
        response.decision = "allowed";
      }
      remember_namespace(state_.namespaces, request,
                         response.patch.empty() ? std::vector<policy::map_entry>{} : d.additions);
      return response;
    }

    state& state_;
    bool mutating_;
  };

  phase_handler mutate_handler{*this, true};
  phase_handler validate_handler{*this, false};
};

policy_handlers::policy_handlers(policy::config initial) : state_(std::make_unique<state>()) {
  state_->config = std::make_shared<const policy::config>(std::move(initial));
}

policy_handlers::~policy_handlers() = default;

void policy_handlers::update_config(policy::config next) {
  auto fresh = std::make_shared<const policy::config>(std::move(next));
  std::lock_guard lock(state_->config_mutex);
  state_->config = std::move(fresh);
}

std::shared_ptr<const policy::config> policy_handlers::current_config() const {
  std::lock_guard lock(state_->config_mutex);
  return state_->config;
}

handler& policy_handlers::mutate() {
  return state_->mutate_handler;
}
handler& policy_handlers::validate() {
  return state_->validate_handler;
}

}  // namespace mlnetpol::admission
