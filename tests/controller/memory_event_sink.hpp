#pragma once
// An event_sink for the controller's tests: records every call; creates can be held (a slow API
// server) until release() or cancel(), and failures injected.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "controller/event_recorder.hpp"

namespace mlnetpol::controller::testing {

// Records calls; create can be held (a slow API server) until release().
class memory_sink : public event_sink {
 public:
  struct call {
    std::string verb;
    std::string namespace_name;
    std::string name;
    std::string body;
  };
  k8s::api_result<k8s::object_meta> create(std::string_view ns, std::string_view body) override {
    std::unique_lock lock(m_);
    calls_.push_back({"create", std::string(ns), "", std::string(body)});
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !hold_ || cancelled_; });
    if (cancelled_) return error(k8s::failure_kind::transport, 0);
    if (fail_) return error(k8s::failure_kind::server_error, 500);
    return k8s::object_meta{};
  }
  k8s::api_result<k8s::object_meta> merge_patch(std::string_view ns, std::string_view name,
                                                std::string_view patch) override {
    std::lock_guard lock(m_);
    calls_.push_back({"patch", std::string(ns), std::string(name), std::string(patch)});
    if (patch_gone_) return error(k8s::failure_kind::not_found, 404);
    return k8s::object_meta{};
  }
  void cancel() override {
    std::lock_guard lock(m_);
    cancelled_ = true;
    cv_.notify_all();
  }

  void hold() {
    std::lock_guard lock(m_);
    hold_ = true;
  }
  void release() {
    std::lock_guard lock(m_);
    hold_ = false;
    cv_.notify_all();
  }
  void set_fail(bool f) {
    std::lock_guard lock(m_);
    fail_ = f;
  }
  void set_patch_gone(bool g) {
    std::lock_guard lock(m_);
    patch_gone_ = g;
  }
  bool wait_entered(int n) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return entered_ >= n; });
  }
  std::vector<call> calls() {
    std::lock_guard lock(m_);
    return calls_;
  }

 private:
  static k8s::api_error error(k8s::failure_kind kind, unsigned status) {
    k8s::api_error e;
    e.kind = kind;
    e.status = status;
    e.message = "injected";
    return e;
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<call> calls_;
  int entered_ = 0;
  bool hold_ = false;
  bool fail_ = false;
  bool patch_gone_ = false;
  bool cancelled_ = false;
};

}  // namespace mlnetpol::controller::testing
