#pragma once
// The Kubernetes API client mlnetpol's controllers (policies, certificates) and its cluster
// commands (explain, matrix) use.
// Blocking calls, meant for the controller's own threads; each call has a deadline, and cancel()
// ends every call in flight (shutdown). Thread-safe: each thread may call concurrently.
//
// Statuses are classified as kube-apiserver v1.28 means them (tests/fixtures/apiserver/): see
// failure_kind. Nothing here knows about policies or namespaces' roles.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "common/result.hpp"

namespace mlnetpol::k8s {

// --- where the API server is and who we are ---
struct rest_config {
  std::string host;  // name or address, as in the server URL
  std::uint16_t port = 443;
  std::string ca_pem;  // the cluster CA (verification is never skipped)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string bearer_token;                // a static token (kubeconfig `token`)
  std::filesystem::path bearer_token_file;  // re-read when it changes (bound tokens rotate)
  std::string tls_server_name;              // SNI / name checked in the server certificate
};

// KUBERNETES_SERVICE_HOST/_PORT and /var/run/secrets/kubernetes.io/serviceaccount/{ca.crt,token};
// an error when not in a pod. sa_dir overrides the service-account folder (tests).
result<rest_config> in_cluster_config(
    const std::filesystem::path& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");
// The current context of a kubeconfig: server, certificate-authority(-data),
// client-certificate(-data)/client-key(-data) or token/tokenFile; relative paths are relative to
// the file's folder.
result<rest_config> load_kubeconfig(const std::filesystem::path& path);
// A command's cluster access, loaded one way by every command: the kubeconfig when one is named
// (--kubeconfig), else the pod's service account. The error says which of the two failed and why.
result<rest_config> load_rest_config(const std::string& kubeconfig);
// KUBERNETES_SERVICE_HOST is set: in a pod, where in_cluster_config applies.
bool in_pod();
result<rest_config> parse_kubeconfig(std::string_view yaml, const std::filesystem::path& base_dir);

// --- what the API server answered when it was not success ---
enum class failure_kind {
  not_found,              // 404 Status NotFound (object or its namespace is missing)
  crd_missing,            // 404 text/plain "404 page not found": the group/CRD is not installed
  namespace_terminating,  // 403 Forbidden "... because it is being terminated": skip, not RBAC
  forbidden,              // other 403: RBAC must grant verb on resource
  unauthorized,           // 401
  conflict,               // 409 Conflict (stale resourceVersion) or FieldManagerConflict
  already_exists,         // 409 AlreadyExists
  invalid,                // 422, 400 on apply, or 500 "failed to create typed patch object":
                          // the object we sent is wrong; never retried hot
  expired,                // 410 Gone/Expired (continue token, too old resourceVersion): relist
  throttled,              // 429: retry after retry_after
  server_error,           // other 5xx: retry after retry_after / backoff
  transport,              // connect, TLS, timeout, cancelled, malformed answer
};
std::string_view to_string(failure_kind kind);  // "not_found", ...

struct api_error {
  failure_kind kind = failure_kind::transport;
  unsigned status = 0;  // HTTP status, 0 for transport failures
  std::string verb;     // get | list | watch | apply | patch | delete | create | update
  std::string resource;  // e.g. "networkpolicies.networking.k8s.io", for RBAC hints
  std::string message;   // the Status message, or the transport error
  std::vector<std::string> causes;       // invalid: "field: message" per cause, or the message
  std::chrono::seconds retry_after{0};   // from Retry-After, 0 when absent
  std::string continue_token;            // a fresh one from a 410 Expired list, when given
  bool retryable() const;  // throttled, server_error, transport (not invalid, not forbidden)
};
[[noreturn]] void throw_exception_from_error(const api_error& e,
                                             const boost::source_location& location);

// How the client classifies an answer that is not 2xx (pure; the fixtures' tests and fuzz targets
// call it): status, Content-Type, body and the Retry-After header as received.
api_error classify_response(unsigned status, std::string_view content_type, std::string_view body,
                            std::string_view retry_after);

template <class T>
using api_result = boost::system::result<T, api_error>;

// --- what is read from objects (the controller needs nothing more) ---
// One metadata.managedFields entry: its manager and operation ("Apply" | "Update").
struct spec_writer {
  std::string manager;
  std::string operation;
  bool operator==(const spec_writer&) const = default;
};
struct object_meta {
  std::string api_version;
  std::string kind;
  std::string namespace_name;  // "" for cluster-scoped objects
  std::string name;
  std::string uid;
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool deleting = false;  // metadata.deletionTimestamp set (a Terminating namespace)
  // metadata.managedFields entries that own fields under spec: who has written the spec (a
  // kubectl edit shows up here even when it left every label and annotation alone).
  std::vector<spec_writer> spec_managers;
  // The spec as compact JSON ("" when the object has none): what a reconciler compares with the
  // rendered one, whatever the annotations claim.
  std::string spec;
  // Top-level members besides apiVersion, kind, metadata, spec and status (a
  // CiliumNetworkPolicy's `specs` list of further rules): none of them is ever rendered.
  bool extra_fields = false;
  // A CiliumNetworkPolicy's top-level `specs` list as compact JSON ("" when absent): the tenant
  // policy guardrails judge its rules as they judge `spec`.
  std::string specs;
};

struct list_page {
  std::vector<object_meta> items;
  std::string resource_version;  // the list's, to start a watch from
  std::string continue_token;    // "" on the last page
};

struct watch_event {
  enum class type { added, modified, deleted, bookmark, error };
  type event_type = type::added;
  object_meta object;  // for bookmarks only resource_version is set
  int error_code = 0;  // for type::error: the Status code (410 means relist)
  std::string error_message;
};
// One line of a watch stream (a JSON object); an error for anything else.
result<watch_event> decode_watch_event(std::string_view line);
// metadata of one object (a JSON object text).
result<object_meta> decode_object_meta(std::string_view json);

// A Lease MicroTime: RFC 3339 UTC with 6 fractional digits, "2026-11-30T11:00:00.000000Z".
std::string format_micro_time(std::chrono::system_clock::time_point time);

struct lease_record {
  std::string namespace_name;
  std::string name;
  std::string resource_version;  // "" for a lease not created yet
  std::string holder_identity;
  int lease_duration_seconds = 15;
  std::string acquire_time;  // MicroTime, RFC 3339 with 6 fractional digits
  std::string renew_time;
  int lease_transitions = 0;
};

// --- resources ---
struct resource {
  std::string_view group;  // "" for the core group
  std::string_view version;
  std::string_view plural;
  std::string_view kind;
  bool namespaced = true;
  std::string api_version() const;   // "v1", "networking.k8s.io/v1"
  std::string rbac_name() const;     // "networkpolicies.networking.k8s.io", "namespaces"
};
inline constexpr resource namespaces{"", "v1", "namespaces", "Namespace", false};
inline constexpr resource network_policies{"networking.k8s.io", "v1", "networkpolicies",
                                           "NetworkPolicy", true};
inline constexpr resource cilium_network_policies{"cilium.io", "v2", "ciliumnetworkpolicies",
                                                  "CiliumNetworkPolicy", true};
// The one cluster-wide policy mlnetpol keeps in Cilium mode (controller/clusterwide_policy.hpp).
inline constexpr resource cilium_clusterwide_network_policies{
    "cilium.io", "v2", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", false};
// Pods: the scheduling gate lists and watches only those carrying its label; the PolicyReports
// judge every pod (keeping verdicts only).
inline constexpr resource pods{"", "v1", "pods", "Pod", true};
inline constexpr resource leases{"coordination.k8s.io", "v1", "leases", "Lease", true};
inline constexpr resource secrets{"", "v1", "secrets", "Secret", true};
inline constexpr resource policy_reports{"wgpolicyk8s.io", "v1alpha2", "policyreports",
                                         "PolicyReport", true};
inline constexpr resource events{"events.k8s.io", "v1", "events", "Event", true};
inline constexpr resource mutating_webhook_configurations{
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration", false};
inline constexpr resource validating_webhook_configurations{
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration", false};

// The field manager of our server-side applies, whose ownership of a spec is ours.
inline constexpr std::string_view field_manager_name = "mlnetpol";

struct client_options {
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds request_timeout{30'000};  // whole request, except watches
  std::string field_manager{field_manager_name};
  std::string user_agent = "mlnetpol";
};

// Counts every API request by verb and code (transport failures as code "error") — the owner
// (controller) exports it as mlnetpol_apiserver_requests_total.
using request_observer = std::function<void(std::string_view verb, std::string_view code)>;

class client {
 public:
  explicit client(rest_config config, client_options options = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void set_observer(request_observer observer);

  // Server-side apply (PATCH application/apply-patch+yaml, a JSON body, fieldManager, force=true).
  api_result<object_meta> apply(const resource& r, std::string_view namespace_name,
                                std::string_view name, std::string_view json_body);
  // PUT of a whole object (json_body carries metadata.resourceVersion: a stale one answers
  // conflict). Replaces every field, which a server-side apply cannot do for fields it never set.
  api_result<object_meta> replace(const resource& r, std::string_view namespace_name,
                                  std::string_view name, std::string_view json_body);
  // JSON merge patch (application/merge-patch+json): namespace labels (never apply: SSA creates a
  // deleted namespace). A 404 means the object is gone.
  api_result<object_meta> merge_patch(const resource& r, std::string_view namespace_name,
                                      std::string_view name, std::string_view json_patch);
  // JSON patch (application/json-patch+json, RFC 6902): a few fields of a list entry (caBundle of
  // every webhook), with a test op as the precondition.
  api_result<object_meta> json_patch(const resource& r, std::string_view namespace_name,
                                     std::string_view name, std::string_view json_patch);
  api_result<object_meta> get(const resource& r, std::string_view namespace_name,
                              std::string_view name);
  // The object's whole JSON text (Secrets, webhook configurations).
  api_result<std::string> get_raw(const resource& r, std::string_view namespace_name,
                                  std::string_view name);
  // DELETE; a 404 is returned as not_found (the caller decides whether that is fine).
  api_result<void> remove(const resource& r, std::string_view namespace_name,
                          std::string_view name);
  // POST of a whole object (Events).
  api_result<object_meta> create(const resource& r, std::string_view namespace_name,
                                 std::string_view json_body);

  // One page; namespace_name "" lists across namespaces.
  api_result<list_page> list(const resource& r, std::string_view namespace_name,
                             std::string_view label_selector, std::size_t limit,
                             std::string_view continue_token);
  // The one object `name` as a list (fieldSelector=metadata.name=NAME, so RBAC resourceNames can
  // grant it): no items when there is none; its resourceVersion starts watch_object().
  api_result<list_page> list_object(const resource& r, std::string_view namespace_name,
                                    std::string_view name);
  // The whole list's JSON text, every item in full (one unpaged GET): for `explain --kubeconfig`,
  // which reads objects the controller never needs (pods, other owners' policies).
  api_result<std::string> list_raw(const resource& r, std::string_view namespace_name);
  // Every page; an expired continue token restarts the list from the beginning (once per call).
  api_result<list_page> list_all(const resource& r, std::string_view namespace_name,
                                 std::string_view label_selector, std::size_t page_size = 500);

  // Streams events (allowWatchBookmarks=true) from resource_version until the server ends the
  // stream (timeout_seconds), on_event returns false, cancel() or an error. A too-old
  // resourceVersion arrives as an event of type error with error_code 410 (HTTP 200).
  api_result<void> watch(const resource& r, std::string_view namespace_name,
                         std::string_view label_selector, std::string_view resource_version,
                         std::chrono::seconds timeout_seconds,
                         const std::function<bool(const watch_event&)>& on_event);

  // watch() of the one object `name` (fieldSelector=metadata.name=NAME, so RBAC resourceNames
  // can grant it). With resource_version "" the current object arrives first as ADDED.
  api_result<void> watch_object(const resource& r, std::string_view namespace_name,
                                std::string_view name, std::string_view resource_version,
                                std::chrono::seconds timeout_seconds,
                                const std::function<bool(const watch_event&)>& on_event);

  // The resources the API server serves in an API group version (discovery, GET
  // /apis/<group>/<version>); empty when it does not serve that version (404). For resources a
  // cluster may or may not serve (ValidatingAdmissionPolicy: v1 from 1.30, v1beta1 behind a gate).
  api_result<std::vector<std::string>> served_resources(std::string_view group,
                                                        std::string_view version);

  api_result<lease_record> get_lease(std::string_view namespace_name, std::string_view name);
  api_result<lease_record> create_lease(const lease_record& lease);
  // PUT with lease.resource_version: a stale one answers conflict (another replica won).
  api_result<lease_record> update_lease(const lease_record& lease);

  // Ends every call in flight with a transport error and makes new calls fail at once. For
  // shutdown; irreversible.
  void cancel();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace mlnetpol::k8s
