#pragma once
// An in-memory API server for the controller's tests: namespaces, NetworkPolicies,
// CiliumNetworkPolicies and one Lease, with resourceVersions, label-selected lists, watches that
// stream the event log, a record of every call and injectable failures. Server-side apply as the
// real one in the part that matters here: over an existing object it keeps the labels,
// annotations, spec members and managers it does not set; a replace (PUT) keeps nothing and takes
// the managedFields it is given.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "controller/cluster.hpp"
#include "tests/support/eventually.hpp"

namespace mlnetpol::controller::testing {

// The shared poll, as a controller::testing name too (the controller's tests name it so).
using mlnetpol::testing::eventually;

inline k8s::api_error make_error(k8s::failure_kind kind, unsigned status,
                                 std::string message = "x") {
  k8s::api_error e;
  e.kind = kind;
  e.status = status;
  e.message = std::move(message);
  return e;
}

inline k8s::watch_event make_event(k8s::watch_event::type type, k8s::object_meta object) {
  k8s::watch_event e;
  e.event_type = type;
  e.object = std::move(object);
  return e;
}

class fake_cluster : public cluster {
 public:
  struct object {
    k8s::object_meta meta;
    std::string json;
  };

  // --- set-up / inspection (thread-safe) ---
  void add_namespace(const std::string& name, std::map<std::string, std::string> labels = {}) {
    std::lock_guard lock(m_);
    k8s::object_meta meta;
    meta.kind = "Namespace";
    meta.name = name;
    meta.labels = std::move(labels);
    meta.resource_version = next_rv();
    namespaces_[name] = meta;
    emit("Namespace", k8s::watch_event::type::added, meta);
  }
  void delete_namespace(const std::string& name) {
    std::lock_guard lock(m_);
    auto it = namespaces_.find(name);
    if (it == namespaces_.end()) return;
    auto meta = it->second;
    namespaces_.erase(it);
    meta.resource_version = next_rv();
    emit("Namespace", k8s::watch_event::type::deleted, meta);
  }
  // kubectl annotate namespace NS KEY=VALUE --overwrite (a MODIFIED event).
  void annotate_namespace(const std::string& name, const std::string& key,
                          const std::string& value) {
    std::lock_guard lock(m_);
    auto& meta = namespaces_.at(name);
    meta.annotations[key] = value;
    meta.resource_version = next_rv();
    emit("Namespace", k8s::watch_event::type::modified, meta);
  }
  std::map<std::string, std::string> labels(const std::string& ns) {
    std::lock_guard lock(m_);
    return namespaces_.at(ns).labels;
  }
  std::map<std::string, std::string> annotations(const std::string& ns) {
    std::lock_guard lock(m_);
    return namespaces_.at(ns).annotations;
  }
  // A pod as a tenant's client creates it (spec: compact JSON).
  void add_pod(const std::string& ns, const std::string& name,
               std::map<std::string, std::string> labels, const std::string& spec) {
    std::lock_guard lock(m_);
    object o;
    o.meta.kind = "Pod";
    o.meta.namespace_name = ns;
    o.meta.name = name;
    o.meta.labels = std::move(labels);
    o.meta.spec = spec;
    o.meta.resource_version = next_rv();
    objects_[{"Pod", ns, name}] = o;
    emit("Pod", k8s::watch_event::type::added, o.meta);
  }
  // An object created or edited by someone else (kubectl, an Update), who then owns fields of its
  // spec; spec "" keeps the spec it had.
  void put_object(const std::string& kind, const std::string& ns, const std::string& name,
                  std::map<std::string, std::string> labels,
                  std::map<std::string, std::string> annotations,
                  const std::string& manager = "kubectl-edit", const std::string& spec = "") {
    std::lock_guard lock(m_);
    object o;
    o.meta.kind = kind;
    o.meta.namespace_name = ns;
    o.meta.name = name;
    o.meta.labels = std::move(labels);
    o.meta.annotations = std::move(annotations);
    o.meta.resource_version = next_rv();
    const auto before = objects_.find({kind, ns, name});
    if (before != objects_.end()) {
      o.meta.spec_managers = before->second.meta.spec_managers;
      o.meta.spec = before->second.meta.spec;
    }
    if (!spec.empty()) o.meta.spec = spec;
    const k8s::spec_writer writer{manager, "Update"};
    if (std::find(o.meta.spec_managers.begin(), o.meta.spec_managers.end(), writer) ==
        o.meta.spec_managers.end())
      o.meta.spec_managers.push_back(writer);
    const bool existed = objects_.contains({kind, ns, name});
    objects_[{kind, ns, name}] = o;
    emit(kind, existed ? k8s::watch_event::type::modified : k8s::watch_event::type::added, o.meta);
  }
  void delete_object(const std::string& kind, const std::string& ns, const std::string& name) {
    std::lock_guard lock(m_);
    auto it = objects_.find({kind, ns, name});
    if (it == objects_.end()) return;
    auto meta = it->second.meta;
    objects_.erase(it);
    meta.resource_version = next_rv();
    emit(kind, k8s::watch_event::type::deleted, meta);
  }
  // Deleted while no watch was open: its event is lost, only a relist can show it is gone.
  void delete_object_unseen(const std::string& kind, const std::string& ns,
                            const std::string& name) {
    std::lock_guard lock(m_);
    objects_.erase({kind, ns, name});
    next_rv();
  }
  std::optional<object> find(const std::string& kind, const std::string& ns,
                             const std::string& name) {
    std::lock_guard lock(m_);
    auto it = objects_.find({kind, ns, name});
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> names(const std::string& kind, const std::string& ns) {
    std::lock_guard lock(m_);
    std::vector<std::string> out;
    for (const auto& [key, o] : objects_)
      if (std::get<0>(key) == kind && std::get<1>(key) == ns) out.push_back(std::get<2>(key));
    return out;
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(m_);
    return calls_;
  }
  void clear_calls() {
    std::lock_guard lock(m_);
    calls_.clear();
  }
  // Writes to namespaces and policies (lease renewals are not counted).
  std::size_t writes() {
    std::lock_guard lock(m_);
    std::size_t n = 0;
    for (const auto& c : calls_)
      if (c.rfind("apply", 0) == 0 || c.rfind("replace", 0) == 0 || c.rfind("patch", 0) == 0 ||
          c.rfind("delete", 0) == 0)
        ++n;
    return n;
  }
  // The next write (apply, replace, patch, delete) whose call starts with `prefix` fails with e.
  void fail_next(std::string prefix, k8s::api_error e) {
    std::lock_guard lock(m_);
    failures_.emplace_back(std::move(prefix), std::move(e));
  }
  // A kind whose CRD is not installed: its calls answer 404 page not found.
  void set_served(const std::string& kind, bool served) {
    std::lock_guard lock(m_);
    if (served) {
      unserved_.erase(kind);
    } else {
      unserved_.insert(kind);
    }
  }
  void set_cilium_installed(bool installed) {
    std::lock_guard lock(m_);
    cilium_installed_ = installed;
  }
  void set_terminating(const std::string& ns) {
    std::lock_guard lock(m_);
    terminating_.insert(ns);
  }
  // How long a watch without events stays open (the server's timeout); cancel() ends it sooner.
  void set_watch_timeout(std::chrono::milliseconds t) {
    std::lock_guard lock(m_);
    watch_timeout_ = t;
  }
  // Makes the next watch of every resource end with a 410 error event.
  void expire_watches() {
    std::lock_guard lock(m_);
    expire_ = {"Namespace", "NetworkPolicy", "CiliumNetworkPolicy"};
    cv_.notify_all();
  }
  std::optional<k8s::lease_record> lease() {
    std::lock_guard lock(m_);
    return lease_;
  }
  void set_lease(std::optional<k8s::lease_record> l) {
    std::lock_guard lock(m_);
    lease_ = std::move(l);
    if (lease_) lease_->resource_version = next_rv();
  }

  // --- cluster ---
  k8s::api_result<k8s::object_meta> apply(const k8s::resource& r, std::string_view ns,
                                          std::string_view name,
                                          std::string_view json_body) override {
    std::lock_guard lock(m_);
    const std::string call =
        "apply " + std::string(r.kind) + " " + std::string(ns) + "/" + std::string(name);
    calls_.push_back(call);
    if (auto e = injected(call)) return *e;
    if ((cilium_kind(r) && !cilium_installed_) ||
        unserved_.contains(std::string(r.kind)))
      return make_error(k8s::failure_kind::crd_missing, 404, "404 page not found");
    if (terminating_.contains(std::string(ns)))
      return make_error(k8s::failure_kind::namespace_terminating, 403, "being terminated");
    if (r.namespaced && !namespaces_.contains(std::string(ns)))
      return make_error(k8s::failure_kind::not_found, 404, "namespaces not found");
    rapidjson::Document doc;
    doc.Parse(json_body.data(), json_body.size());
    if (doc.HasParseError() || !doc.IsObject())
      return make_error(k8s::failure_kind::invalid, 422, "not JSON");
    object o = from_body(r, ns, name, doc, json_body);
    const std::tuple<std::string, std::string, std::string> key{o.meta.kind, o.meta.namespace_name,
                                                                o.meta.name};
    auto it = objects_.find(key);
    const k8s::spec_writer ours{std::string(k8s::field_manager_name), "Apply"};
    o.meta.spec_managers = {ours};
    if (it != objects_.end()) {
      // What the apply does not set stays, and so do the other managers.
      const auto& before = it->second.meta;
      for (const auto& [k, v] : before.labels) o.meta.labels.try_emplace(k, v);
      for (const auto& [k, v] : before.annotations) o.meta.annotations.try_emplace(k, v);
      o.meta.spec = merged_spec(before.spec, o.meta.spec);
      o.meta.spec_managers = before.spec_managers;
      if (std::find(o.meta.spec_managers.begin(), o.meta.spec_managers.end(), ours) ==
          o.meta.spec_managers.end())
        o.meta.spec_managers.push_back(ours);
      // An object without a spec (a PolicyReport's results) is compared by its whole body.
      if (before.labels == o.meta.labels && before.annotations == o.meta.annotations &&
          before.spec == o.meta.spec && before.spec_managers == o.meta.spec_managers &&
          (!o.meta.spec.empty() || it->second.json == o.json))
        return before;
    }
    o.meta.resource_version = next_rv();
    emit(o.meta.kind,
         it == objects_.end() ? k8s::watch_event::type::added : k8s::watch_event::type::modified,
         o.meta);
    objects_[key] = o;
    return o.meta;
  }

  k8s::api_result<k8s::object_meta> replace(const k8s::resource& r, std::string_view ns,
                                            std::string_view name,
                                            std::string_view json_body) override {
    std::lock_guard lock(m_);
    const std::string call =
        "replace " + std::string(r.kind) + " " + std::string(ns) + "/" + std::string(name);
    calls_.push_back(call);
    if (auto e = injected(call)) return *e;
    rapidjson::Document doc;
    doc.Parse(json_body.data(), json_body.size());
    if (doc.HasParseError() || !doc.IsObject())
      return make_error(k8s::failure_kind::invalid, 422, "not JSON");
    auto it = objects_.find({std::string(r.kind), std::string(ns), std::string(name)});
    if (it == objects_.end()) return make_error(k8s::failure_kind::not_found, 404, "not found");
    const auto& md = doc["metadata"];
    if (!md.HasMember("resourceVersion") ||
        md["resourceVersion"].GetString() != it->second.meta.resource_version)
      return make_error(k8s::failure_kind::conflict, 409, "the object has been modified");
    // managedFields given: they replace the object's (only our apply's one entry is expected).
    if (!md.HasMember("managedFields") || md["managedFields"].Size() != 1 ||
        md["managedFields"][0]["manager"].GetString() != k8s::field_manager_name ||
        std::string_view(md["managedFields"][0]["operation"].GetString()) != "Apply")
      return make_error(k8s::failure_kind::invalid, 422, "managedFields not set to ours");
    object o = from_body(r, ns, name, doc, json_body);
    o.meta.spec_managers = {{std::string(k8s::field_manager_name), "Apply"}};
    o.meta.resource_version = next_rv();
    emit(o.meta.kind, k8s::watch_event::type::modified, o.meta);
    it->second = o;
    return o.meta;
  }

  k8s::api_result<k8s::object_meta> merge_patch(const k8s::resource& r, std::string_view ns,
                                                std::string_view name,
                                                std::string_view json_patch) override {
    std::lock_guard lock(m_);
    const std::string call =
        "patch " + std::string(r.kind) + " " + std::string(name) + " " + std::string(json_patch);
    calls_.push_back(call);
    if (auto e = injected(call)) return *e;
    auto it = namespaces_.find(std::string(name));
    if (it == namespaces_.end())
      return make_error(k8s::failure_kind::not_found, 404, "namespaces not found");
    rapidjson::Document doc;
    doc.Parse(json_patch.data(), json_patch.size());
    const auto& metadata = doc["metadata"];
    for (const char* map : {"labels", "annotations"}) {
      if (!metadata.HasMember(map)) continue;
      auto& into = std::string_view(map) == "labels" ? it->second.labels : it->second.annotations;
      for (const auto& m : metadata[map].GetObject()) {
        if (m.value.IsNull()) {
          into.erase(m.name.GetString());
        } else {
          into[m.name.GetString()] = m.value.GetString();
        }
      }
    }
    it->second.resource_version = next_rv();
    emit("Namespace", k8s::watch_event::type::modified, it->second);
    return it->second;
  }

  // A pod's gate release: "test"/"remove" of /metadata/labels/<key> and of
  // /spec/schedulingGates/<i> (the only JSON Patches the controller sends); a failed test answers
  // invalid, as the real API server does.
  k8s::api_result<k8s::object_meta> json_patch(const k8s::resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view json_patch) override {
    std::lock_guard lock(m_);
    const std::string call = "json-patch " + std::string(r.kind) + " " + std::string(ns) + "/" +
                             std::string(name) + " " + std::string(json_patch);
    calls_.push_back(call);
    if (auto e = injected(call)) return *e;
    auto it = objects_.find({std::string(r.kind), std::string(ns), std::string(name)});
    if (it == objects_.end()) return make_error(k8s::failure_kind::not_found, 404, "not found");
    k8s::object_meta meta = it->second.meta;
    rapidjson::Document spec;
    spec.Parse(meta.spec.empty() ? "{}" : meta.spec.c_str());
    rapidjson::Document ops;
    ops.Parse(json_patch.data(), json_patch.size());
    const std::string label_prefix = "/metadata/labels/";
    const std::string gate_prefix = "/spec/schedulingGates/";
    for (const auto& op : ops.GetArray()) {
      const std::string path = op["path"].GetString();
      const bool test = std::string_view(op["op"].GetString()) == "test";
      if (path.starts_with(label_prefix)) {
        std::string key = path.substr(label_prefix.size());
        if (const auto at = key.find("~1"); at != std::string::npos) key.replace(at, 2, "/");
        const auto l = meta.labels.find(key);
        if (l == meta.labels.end() || (test && l->second != op["value"].GetString()))
          return make_error(k8s::failure_kind::invalid, 422, "test failed");
        if (!test) meta.labels.erase(l);
      } else if (path.starts_with(gate_prefix)) {
        const auto index = std::stoul(path.substr(gate_prefix.size()));
        auto& gates = spec["schedulingGates"];
        if (!gates.IsArray() || index >= gates.Size() || (test && gates[index] != op["value"]))
          return make_error(k8s::failure_kind::invalid, 422, "test failed");
        if (!test) gates.Erase(gates.Begin() + index);
      } else {
        return make_error(k8s::failure_kind::invalid, 422, "unsupported path " + path);
      }
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    spec.Accept(writer);
    meta.spec = buffer.GetString();
    meta.resource_version = next_rv();
    it->second.meta = meta;
    emit(meta.kind, k8s::watch_event::type::modified, meta);
    return meta;
  }

  k8s::api_result<void> remove(const k8s::resource& r, std::string_view ns,
                               std::string_view name) override {
    std::lock_guard lock(m_);
    const std::string call =
        "delete " + std::string(r.kind) + " " + std::string(ns) + "/" + std::string(name);
    calls_.push_back(call);
    if (auto e = injected(call)) return *e;
    auto it = objects_.find({std::string(r.kind), std::string(ns), std::string(name)});
    if (it == objects_.end()) return make_error(k8s::failure_kind::not_found, 404, "not found");
    auto meta = it->second.meta;
    objects_.erase(it);
    meta.resource_version = next_rv();
    emit(meta.kind, k8s::watch_event::type::deleted, meta);
    return {};
  }

  k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                           std::string_view selector) override {
    std::lock_guard lock(m_);
    calls_.push_back("list " + std::string(r.kind) + " " + std::string(ns));
    if (auto e = injected(calls_.back())) return *e;
    if ((cilium_kind(r) && !cilium_installed_) ||
        unserved_.contains(std::string(r.kind)))
      return make_error(k8s::failure_kind::crd_missing, 404, "404 page not found");
    k8s::list_page page;
    page.resource_version = std::to_string(rv_);
    if (r.kind == k8s::namespaces.kind) {
      for (const auto& [n, meta] : namespaces_) page.items.push_back(meta);
      return page;
    }
    const auto eq = selector.find('=');
    const std::string key(selector.substr(0, eq));
    const std::string value(eq == std::string_view::npos ? "" : selector.substr(eq + 1));
    for (const auto& [k, o] : objects_) {
      if (std::get<0>(k) != r.kind) continue;
      if (!ns.empty() && std::get<1>(k) != ns) continue;
      if (!selector.empty()) {
        auto l = o.meta.labels.find(key);
        if (l == o.meta.labels.end() || l->second != value) continue;
      }
      page.items.push_back(o.meta);
    }
    return page;
  }

  k8s::api_result<void> watch(
      const k8s::resource& r, std::string_view ns, std::string_view selector,
      std::string_view resource_version, std::chrono::seconds timeout,
      const std::function<bool(const k8s::watch_event&)>& on_event) override {
    std::unique_lock lock(m_);
    calls_.push_back("watch " + std::string(r.kind));
    if (auto e = injected(calls_.back())) return *e;
    if ((cilium_kind(r) && !cilium_installed_) ||
        unserved_.contains(std::string(r.kind)))
      return make_error(k8s::failure_kind::crd_missing, 404, "404 page not found");
    std::uint64_t since = std::stoull(std::string(resource_version));
    const auto deadline = std::chrono::steady_clock::now() + watch_timeout_;
    for (;;) {
      if (cancelled_) return make_error(k8s::failure_kind::transport, 0, "cancelled");
      if (expire_.erase(std::string(r.kind)) == 1) {
        k8s::watch_event e;
        e.event_type = k8s::watch_event::type::error;
        e.error_code = 410;
        lock.unlock();
        on_event(e);
        return {};
      }
      for (const auto& [kind, e] : log_) {
        if (kind != r.kind) continue;
        if (std::stoull(e.object.resource_version) <= since) continue;
        since = std::stoull(e.object.resource_version);
        const auto copy = e;
        lock.unlock();
        const bool more = on_event(copy);
        lock.lock();
        if (!more) return {};
        break;  // the log may have grown meanwhile: scan again
      }
      bool pending = false;
      for (const auto& [kind, e] : log_)
        if (kind == r.kind && std::stoull(e.object.resource_version) > since) pending = true;
      if (pending) continue;
      // A short server-side timeout keeps the tests' shutdown quick; the informer resumes.
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return {};
    }
  }

  // Discovery answers: what serve_resources set for "group/version" (nothing served otherwise).
  void serve_resources(const std::string& group_version, std::vector<std::string> resources) {
    std::lock_guard lock(m_);
    served_[group_version] = std::move(resources);
  }
  k8s::api_result<std::vector<std::string>> served_resources(std::string_view group,
                                                             std::string_view version) override {
    std::lock_guard lock(m_);
    const auto it = served_.find(std::string(group) + "/" + std::string(version));
    return it == served_.end() ? std::vector<std::string>{} : it->second;
  }
  k8s::api_result<k8s::lease_record> get_lease(std::string_view ns,
                                               std::string_view name) override {
    std::lock_guard lock(m_);
    calls_.push_back("get lease");
    if (!lease_) return make_error(k8s::failure_kind::not_found, 404, "not found");
    return *lease_;
  }
  k8s::api_result<k8s::lease_record> create_lease(const k8s::lease_record& l) override {
    std::lock_guard lock(m_);
    calls_.push_back("create lease");
    if (lease_) return make_error(k8s::failure_kind::already_exists, 409, "exists");
    lease_ = l;
    lease_->resource_version = next_rv();
    return *lease_;
  }
  k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& l) override {
    std::lock_guard lock(m_);
    calls_.push_back("update lease");
    if (auto e = injected("update lease")) return *e;
    if (!lease_ || lease_->resource_version != l.resource_version)
      return make_error(k8s::failure_kind::conflict, 409, "conflict");
    lease_ = l;
    lease_->resource_version = next_rv();
    return *lease_;
  }
  void cancel() override {
    std::lock_guard lock(m_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::map<std::string, std::vector<std::string>> served_;
  std::string next_rv() { return std::to_string(++rv_); }
  static std::string compact(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
  }
  // The object a body describes (labels, annotations, spec); no managers, no resourceVersion.
  static object from_body(const k8s::resource& r, std::string_view ns, std::string_view name,
                          const rapidjson::Document& doc, std::string_view json_body) {
    object o;
    o.json = std::string(json_body);
    o.meta.kind = std::string(r.kind);
    o.meta.namespace_name = std::string(ns);
    o.meta.name = std::string(name);
    const auto& md = doc["metadata"];
    for (const char* map : {"labels", "annotations"}) {
      if (!md.HasMember(map)) continue;
      for (const auto& m : md[map].GetObject()) {
        (std::string(map) == "labels" ? o.meta.labels : o.meta.annotations)[m.name.GetString()] =
            m.value.GetString();
      }
    }
    if (doc.HasMember("spec")) o.meta.spec = compact(doc["spec"]);
    return o;
  }
  // Server-side apply's merge, one level deep: the applied spec's members over the live ones.
  static std::string merged_spec(const std::string& live, const std::string& applied) {
    if (live.empty()) return applied;
    rapidjson::Document base, over;
    base.Parse(live.data(), live.size());
    over.Parse(applied.data(), applied.size());
    for (auto& m : over.GetObject()) {
      rapidjson::Value key(m.name, base.GetAllocator());
      rapidjson::Value value(m.value, base.GetAllocator());
      base.RemoveMember(m.name);
      base.AddMember(key, value, base.GetAllocator());
    }
    return compact(base);
  }
  void emit(const std::string& kind, k8s::watch_event::type t, const k8s::object_meta& meta) {
    k8s::watch_event e;
    e.event_type = t;
    e.object = meta;
    log_.emplace_back(kind, e);
    cv_.notify_all();
  }
  std::optional<k8s::api_error> injected(const std::string& call) {
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (call.rfind(it->first, 0) == 0) {
        auto e = it->second;
        failures_.erase(it);
        return e;
      }
    }
    return std::nullopt;
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::uint64_t rv_ = 100;
  std::map<std::string, k8s::object_meta> namespaces_;
  std::set<std::string> terminating_;
  std::map<std::tuple<std::string, std::string, std::string>, object> objects_;
  std::vector<std::pair<std::string, k8s::watch_event>> log_;
  std::vector<std::string> calls_;
  std::deque<std::pair<std::string, k8s::api_error>> failures_;
  std::optional<k8s::lease_record> lease_;
  bool cilium_installed_ = true;
  // Cilium installs both CRDs.
  static bool cilium_kind(const k8s::resource& r) {
    return r.kind == k8s::cilium_network_policies.kind ||
           r.kind == k8s::cilium_clusterwide_network_policies.kind;
  }
  bool cancelled_ = false;
  std::set<std::string> expire_;  // kinds whose next watch answers 410
  std::chrono::milliseconds watch_timeout_{200};
  std::set<std::string> unserved_;
};

}  // namespace mlnetpol::controller::testing
