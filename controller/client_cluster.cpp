#include <memory>

#include "controller/cluster.hpp"

namespace mlnetpol::controller {
namespace {

class client_cluster final : public cluster {
 public:
  explicit client_cluster(std::unique_ptr<k8s::client> client) : client_(std::move(client)) {}

  k8s::api_result<k8s::object_meta> apply(const k8s::resource& r, std::string_view ns,
                                          std::string_view name,
                                          std::string_view json_body) override {
    return client_->apply(r, ns, name, json_body);
  }
  k8s::api_result<k8s::object_meta> replace(const k8s::resource& r, std::string_view ns,
                                            std::string_view name,
                                            std::string_view json_body) override {
    return client_->replace(r, ns, name, json_body);
  }
  k8s::api_result<k8s::object_meta> merge_patch(const k8s::resource& r, std::string_view ns,
                                                std::string_view name,
                                                std::string_view json_patch) override {
    return client_->merge_patch(r, ns, name, json_patch);
  }
  k8s::api_result<k8s::object_meta> json_patch(const k8s::resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view json_patch) override {
    return client_->json_patch(r, ns, name, json_patch);
  }
  k8s::api_result<void> remove(const k8s::resource& r, std::string_view ns,
                               std::string_view name) override {
    return client_->remove(r, ns, name);
  }
  k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                           std::string_view label_selector) override {
    return client_->list_all(r, ns, label_selector);
  }
  k8s::api_result<void> watch(
      const k8s::resource& r, std::string_view ns, std::string_view label_selector,
      std::string_view resource_version, std::chrono::seconds timeout,
      const std::function<bool(const k8s::watch_event&)>& on_event) override {
    return client_->watch(r, ns, label_selector, resource_version, timeout, on_event);
  }
  k8s::api_result<std::vector<std::string>> served_resources(std::string_view group,
                                                             std::string_view version) override {
    return client_->served_resources(group, version);
  }
  k8s::api_result<k8s::lease_record> get_lease(std::string_view ns,
                                               std::string_view name) override {
    return client_->get_lease(ns, name);
  }
  k8s::api_result<k8s::lease_record> create_lease(const k8s::lease_record& lease) override {
    return client_->create_lease(lease);
  }
  k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& lease) override {
    return client_->update_lease(lease);
  }
  void cancel() override { client_->cancel(); }

 private:
  std::unique_ptr<k8s::client> client_;
};

}  // namespace

std::unique_ptr<cluster> make_client_cluster(std::unique_ptr<k8s::client> client) {
  return std::make_unique<client_cluster>(std::move(client));
}

}  // namespace mlnetpol::controller
