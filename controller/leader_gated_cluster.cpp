#include "controller/leader_gated_cluster.hpp"

namespace mlnetpol::controller {
namespace {

k8s::api_error not_leader(std::string_view verb) {
  k8s::api_error e;
  e.kind = k8s::failure_kind::transport;
  e.verb = std::string(verb);
  e.message = "not written: this replica is no longer the leader";
  return e;
}

class leader_gated_cluster final : public cluster {
 public:
  leader_gated_cluster(cluster& api, std::function<bool()> leader)
      : api_(api), leader_(std::move(leader)) {}
  k8s::api_result<k8s::object_meta> apply(const k8s::resource& r, std::string_view ns,
                                          std::string_view name, std::string_view body) override {
    if (!leader_()) return not_leader("apply");
    return api_.apply(r, ns, name, body);
  }
  k8s::api_result<k8s::object_meta> replace(const k8s::resource& r, std::string_view ns,
                                            std::string_view name, std::string_view body) override {
    if (!leader_()) return not_leader("replace");
    return api_.replace(r, ns, name, body);
  }
  k8s::api_result<k8s::object_meta> merge_patch(const k8s::resource& r, std::string_view ns,
                                                std::string_view name,
                                                std::string_view patch) override {
    if (!leader_()) return not_leader("patch");
    return api_.merge_patch(r, ns, name, patch);
  }
  k8s::api_result<k8s::object_meta> json_patch(const k8s::resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view patch) override {
    if (!leader_()) return not_leader("patch");
    return api_.json_patch(r, ns, name, patch);
  }
  k8s::api_result<void> remove(const k8s::resource& r, std::string_view ns,
                               std::string_view name) override {
    if (!leader_()) return not_leader("delete");
    return api_.remove(r, ns, name);
  }
  k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                           std::string_view selector) override {
    return api_.list_all(r, ns, selector);
  }
  k8s::api_result<void> watch(const k8s::resource& r, std::string_view ns,
                              std::string_view selector, std::string_view rv,
                              std::chrono::seconds timeout,
                              const std::function<bool(const k8s::watch_event&)>& on) override {
    return api_.watch(r, ns, selector, rv, timeout, on);
  }
  k8s::api_result<std::vector<std::string>> served_resources(std::string_view group,
                                                             std::string_view version) override {
    return api_.served_resources(group, version);
  }
  k8s::api_result<k8s::lease_record> get_lease(std::string_view ns,
                                               std::string_view name) override {
    return api_.get_lease(ns, name);
  }
  k8s::api_result<k8s::lease_record> create_lease(const k8s::lease_record& l) override {
    return api_.create_lease(l);
  }
  k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& l) override {
    return api_.update_lease(l);
  }
  void cancel() override { api_.cancel(); }

 private:
  cluster& api_;
  std::function<bool()> leader_;
};

}  // namespace

std::unique_ptr<cluster> leader_gated(cluster& api, std::function<bool()> leader) {
  return std::make_unique<leader_gated_cluster>(api, std::move(leader));
}

}  // namespace mlnetpol::controller
