#pragma once
// The API calls the controller makes, as an interface: k8s::client behind it in production
// (client_cluster), an in-memory fake in the unit tests.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/client.hpp"

namespace mlnetpol::controller {

class cluster {
 public:
  virtual ~cluster() = default;
  virtual k8s::api_result<k8s::object_meta> apply(const k8s::resource& r, std::string_view ns,
                                                  std::string_view name,
                                                  std::string_view json_body) = 0;
  // PUT of a whole object at the resourceVersion its body carries.
  virtual k8s::api_result<k8s::object_meta> replace(const k8s::resource& r, std::string_view ns,
                                                    std::string_view name,
                                                    std::string_view json_body) = 0;
  virtual k8s::api_result<k8s::object_meta> merge_patch(const k8s::resource& r, std::string_view ns,
                                                        std::string_view name,
                                                        std::string_view json_patch) = 0;
  // RFC 6902 JSON Patch (a scheduling gate's release, with a test op as its precondition).
  virtual k8s::api_result<k8s::object_meta> json_patch(const k8s::resource& r, std::string_view ns,
                                                       std::string_view name,
                                                       std::string_view json_patch) = 0;
  virtual k8s::api_result<void> remove(const k8s::resource& r, std::string_view ns,
                                       std::string_view name) = 0;
  virtual k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                                   std::string_view label_selector) = 0;
  virtual k8s::api_result<void> watch(
      const k8s::resource& r, std::string_view ns, std::string_view label_selector,
      std::string_view resource_version, std::chrono::seconds timeout,
      const std::function<bool(const k8s::watch_event&)>& on_event) = 0;
  // Discovery: the resources served in group/version (empty when it is not served).
  virtual k8s::api_result<std::vector<std::string>> served_resources(std::string_view group,
                                                                     std::string_view version) = 0;
  virtual k8s::api_result<k8s::lease_record> get_lease(std::string_view ns,
                                                       std::string_view name) = 0;
  virtual k8s::api_result<k8s::lease_record> create_lease(const k8s::lease_record& lease) = 0;
  virtual k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& lease) = 0;
  // Ends calls in flight (shutdown); irreversible.
  virtual void cancel() = 0;
};

// The real thing: forwards to a k8s::client it owns.
std::unique_ptr<cluster> make_client_cluster(std::unique_ptr<k8s::client> client);

}  // namespace mlnetpol::controller
