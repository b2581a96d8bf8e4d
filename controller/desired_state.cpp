#include "controller/desired_state.hpp"

#include "policy/render/hash.hpp"

namespace mlnetpol::controller {

std::string policy_set_hash(const rendered_set& set) {
  if (set.empty()) return {};
  std::string text;
  for (const auto& o : set) text += o.kind + "/" + o.name + "=" + o.spec_hash + "\n";
  return policy::render::spec_hash(text);
}

std::string desired_state::policy_set_hash(const std::string& namespace_name) const {
  return controller::policy_set_hash(*policies(namespace_name));
}

desired_state::desired_state(std::shared_ptr<const policy::config> cfg)
    : config_(std::move(cfg)), index_(*config_) {}

std::shared_ptr<const rendered_set> desired_state::policies(const std::string& namespace_name) const {
  {
    std::lock_guard lock(mutex_);
    if (auto it = rendered_.find(namespace_name); it != rendered_.end()) return it->second;
  }
  // Rendered outside the lock: two workers never render one namespace at once (the queue), and a
  // rare double render by a watch event only costs the time.
  auto set = std::make_shared<const rendered_set>(
      policy::render_namespace(*config_, namespace_name, index_.roles(namespace_name)));
  std::lock_guard lock(mutex_);
  ++renders_;
  return rendered_.try_emplace(namespace_name, std::move(set)).first->second;
}

const policy::render_summary& desired_state::summary() const {
  {
    std::lock_guard lock(mutex_);
    if (summary_) return *summary_;
  }
  auto s = policy::summarize(*config_, index_,
                             [this](const std::string& ns) { return policies(ns)->size(); });
  std::lock_guard lock(mutex_);
  if (!summary_) summary_ = std::move(s);
  return *summary_;
}

std::uint64_t desired_state::renders() const {
  std::lock_guard lock(mutex_);
  return renders_;
}

}  // namespace mlnetpol::controller
