#pragma once
// Handles on one fake_cluster for the controller's tests: several replicas share the fake, each
// owning a handle (cancelling one replica's calls leaves the others' alone), and a handle whose
// Lease requests hang, as with an API server that stopped answering one replica.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "controller/cluster.hpp"
#include "tests/controller/fake_cluster.hpp"
#include "tests/support/eventually.hpp"

namespace mlnetpol::controller::testing {

// The fake is shared by replicas; each manager owns a forwarding handle to it.
class shared_handle : public cluster {
 public:
  explicit shared_handle(fake_cluster& f) : f_(f) {}
  k8s::api_result<k8s::object_meta> apply(const k8s::resource& r, std::string_view ns,
                                          std::string_view name, std::string_view body) override {
    if (cancelled_) return make_error(k8s::failure_kind::transport, 0, "cancelled");
    return f_.apply(r, ns, name, body);
  }
  k8s::api_result<k8s::object_meta> replace(const k8s::resource& r, std::string_view ns,
                                            std::string_view name, std::string_view body) override {
    if (cancelled_) return make_error(k8s::failure_kind::transport, 0, "cancelled");
    return f_.replace(r, ns, name, body);
  }
  k8s::api_result<k8s::object_meta> merge_patch(const k8s::resource& r, std::string_view ns,
                                                std::string_view name,
                                                std::string_view patch) override {
    return f_.merge_patch(r, ns, name, patch);
  }
  k8s::api_result<k8s::object_meta> json_patch(const k8s::resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view patch) override {
    return f_.json_patch(r, ns, name, patch);
  }
  k8s::api_result<void> remove(const k8s::resource& r, std::string_view ns,
                               std::string_view name) override {
    return f_.remove(r, ns, name);
  }
  k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                           std::string_view sel) override {
    return f_.list_all(r, ns, sel);
  }
  k8s::api_result<void> watch(const k8s::resource& r, std::string_view ns, std::string_view sel,
                              std::string_view rv, std::chrono::seconds timeout,
                              const std::function<bool(const k8s::watch_event&)>& on) override {
    if (cancelled_) return make_error(k8s::failure_kind::transport, 0, "cancelled");
    {
      std::lock_guard lock(watches_mutex_);
      ++watches_[std::string(r.kind)];
    }
    return f_.watch(r, ns, sel, rv, timeout, on);
  }
  // Watches this handle opened for kind. An informer watches only after its list was handled, so
  // one or more means this replica's store holds the kind (the fake's own call log mixes replicas).
  std::size_t watches(const k8s::resource& r) {
    std::lock_guard lock(watches_mutex_);
    const auto it = watches_.find(std::string(r.kind));
    return it == watches_.end() ? 0 : it->second;
  }
  k8s::api_result<std::vector<std::string>> served_resources(std::string_view g,
                                                             std::string_view v) override {
    return f_.served_resources(g, v);
  }
  k8s::api_result<k8s::lease_record> get_lease(std::string_view ns, std::string_view n) override {
    return f_.get_lease(ns, n);
  }
  k8s::api_result<k8s::lease_record> create_lease(const k8s::lease_record& l) override {
    return f_.create_lease(l);
  }
  k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& l) override {
    return f_.update_lease(l);
  }
  void cancel() override { cancelled_ = true; }

 private:
  fake_cluster& f_;
  std::atomic<bool> cancelled_{false};
  std::mutex watches_mutex_;
  std::map<std::string, std::size_t> watches_;
};

// A replica whose next cluster-wide list of one kind, once armed, runs `during` after its answer is
// taken: what `during` changes is newer than that list (a watch event racing a full pass's lists).
// Counts the watch events this replica has handled, per kind.
class list_hook_handle : public shared_handle {
 public:
  explicit list_hook_handle(fake_cluster& f) : shared_handle(f) {}
  void arm(const k8s::resource& r, std::function<void()> during) {
    std::lock_guard lock(hook_mutex_);
    kind_ = std::string(r.kind);
    during_ = std::move(during);
  }
  bool fired() const { return fired_.load(); }
  std::size_t handled(const k8s::resource& r) {
    std::lock_guard lock(hook_mutex_);
    const auto it = handled_.find(std::string(r.kind));
    return it == handled_.end() ? 0 : it->second;
  }
  k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                           std::string_view sel) override {
    auto page = shared_handle::list_all(r, ns, sel);
    std::function<void()> during;
    {
      std::lock_guard lock(hook_mutex_);
      if (ns.empty() && r.kind == kind_ && during_) during.swap(during_);
    }
    if (during) {
      during();
      fired_ = true;
    }
    return page;
  }
  k8s::api_result<void> watch(const k8s::resource& r, std::string_view ns, std::string_view sel,
                              std::string_view rv, std::chrono::seconds timeout,
                              const std::function<bool(const k8s::watch_event&)>& on) override {
    const std::string kind(r.kind);
    return shared_handle::watch(r, ns, sel, rv, timeout, [&](const k8s::watch_event& e) {
      const bool more = on(e);
      std::lock_guard lock(hook_mutex_);
      ++handled_[kind];
      return more;
    });
  }

 private:
  std::mutex hook_mutex_;
  std::string kind_;
  std::function<void()> during_;
  std::atomic<bool> fired_{false};
  std::map<std::string, std::size_t> handled_;
};

// A replica whose Lease reads and renewals hang while `frozen` (an API server that stopped
// answering it, a network partition), until unfrozen or cancelled.
class freezable_handle : public shared_handle {
 public:
  freezable_handle(fake_cluster& f, std::atomic<bool>& frozen)
      : shared_handle(f), frozen_(frozen) {}
  k8s::api_result<k8s::lease_record> get_lease(std::string_view ns, std::string_view n) override {
    hang();
    return shared_handle::get_lease(ns, n);
  }
  k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& l) override {
    hang();
    return shared_handle::update_lease(l);
  }
  void cancel() override {
    stop_ = true;
    shared_handle::cancel();
  }

 private:
  // Bounded, so that a failed check cannot leave a stop() waiting for ever; longer than any
  // eventually(), so that a frozen call never ends by itself while a test still waits on it.
  void hang() {
    const auto until = std::chrono::steady_clock::now() + mlnetpol::testing::eventually_limit +
                       std::chrono::seconds(10);
    while (frozen_.load() && !stop_.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::atomic<bool>& frozen_;
  std::atomic<bool> stop_{false};
};

}  // namespace mlnetpol::controller::testing
