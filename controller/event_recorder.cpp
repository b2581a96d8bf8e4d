#include "controller/event_recorder.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/obs/logging.hpp"
#include "common/obs/metrics.hpp"
#include "controller/api_failures.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

class client_event_sink final : public event_sink {
 public:
  explicit client_event_sink(std::unique_ptr<k8s::client> client) : client_(std::move(client)) {}
  k8s::api_result<k8s::object_meta> create(std::string_view namespace_name,
                                           std::string_view json_body) override {
    return client_->create(k8s::events, namespace_name, json_body);
  }
  k8s::api_result<k8s::object_meta> merge_patch(std::string_view namespace_name,
                                                std::string_view name,
                                                std::string_view json_patch) override {
    return client_->merge_patch(k8s::events, namespace_name, name, json_patch);
  }
  void cancel() override { client_->cancel(); }

 private:
  std::unique_ptr<k8s::client> client_;
};

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// RFC 1123 subdomain: dot-separated labels of [a-z0-9-], each starting and ending alphanumeric.
bool dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = s.find('.', start);
    const std::string_view label = s.substr(start, dot - start);
    if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
    for (char c : label)
      if (!alnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_series(writer& w, const event_series& s) {
  w.Key("series");
  w.StartObject();
  w.Key("count");
  w.Uint64(s.count);
  put(w, "lastObservedTime", k8s::format_micro_time(s.last_observed));
  w.EndObject();
}

}  // namespace

std::unique_ptr<event_sink> make_client_event_sink(std::unique_ptr<k8s::client> client) {
  return std::make_unique<client_event_sink>(std::move(client));
}

std::string event_namespace(const object_ref& regarding) {
  return regarding.namespace_name.empty() ? std::string("default") : regarding.namespace_name;
}

std::string event_name(std::string_view regarding_name, std::uint64_t unique) {
  constexpr std::size_t suffix = 17;  // ".%016x"
  std::string prefix(regarding_name.substr(0, 253 - suffix));
  for (char& c : prefix)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  while (!prefix.empty() && !alnum(prefix.back())) prefix.pop_back();
  if (!dns_subdomain(prefix)) prefix = "mlnetpol";
  return fmt::format("{}.{:016x}", prefix, unique);
}

std::string encode_event(const event_record& r, std::string_view name,
                         std::string_view reporting_instance,
                         std::chrono::system_clock::time_point event_time,
                         const std::optional<event_series>& series) {
  rapidjson::StringBuffer buffer;
  writer w(buffer);
  w.StartObject();
  put(w, "apiVersion", "events.k8s.io/v1");
  put(w, "kind", "Event");
  w.Key("metadata");
  w.StartObject();
  put(w, "name", name);
  put(w, "namespace", event_namespace(r.regarding));
  w.EndObject();
  put(w, "eventTime", k8s::format_micro_time(event_time));
  if (series && series->count >= 2) put_series(w, *series);
  put(w, "reportingController", r.reporting_controller);
  put(w, "reportingInstance", reporting_instance.substr(0, reporting_instance_limit));
  put(w, "action", r.action);
  put(w, "reason", r.reason);
  put(w, "type", to_string(r.type));
  put(w, "note", r.note);
  w.Key("regarding");
  w.StartObject();
  put(w, "apiVersion", r.regarding.api_version);
  put(w, "kind", r.regarding.kind);
  if (!r.regarding.namespace_name.empty()) put(w, "namespace", r.regarding.namespace_name);
  put(w, "name", r.regarding.name);
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string encode_series_patch(const event_series& series) {
  rapidjson::StringBuffer buffer;
  writer w(buffer);
  w.StartObject();
  put_series(w, series);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string default_reporting_instance() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0')
    return std::string(pod).substr(0, reporting_instance_limit);
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0')
    return std::string(host.data()).substr(0, reporting_instance_limit);
  return "mlnetpol";
}

// --- the recorder ---

event_recorder::event_recorder(std::unique_ptr<event_sink> sink, event_recorder_options options)
    : sink_(std::move(sink)), options_(std::move(options)), correlator_(options_.limits) {
  if (options_.reporting_instance.empty()) options_.reporting_instance = "mlnetpol";
}

event_recorder::~event_recorder() {
  stop();
}

void event_recorder::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopped_) return;
  started_ = true;
  worker_ = std::thread([this] { run(); });
}

void event_recorder::stop() {
  {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    if (!started_) return;
    stopping_ = true;
    cv_.notify_all();
    // The worker writes what is left; a slow or absent API server gets stop_grace, then its
    // calls are cancelled (and counted failed).
    if (!cv_.wait_for(lock, options_.stop_grace, [this] { return finished_; })) {
      lock.unlock();
      sink_->cancel();
    }
  }
  worker_.join();
}

bool event_recorder::record(event_record r) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(r));
  }
  cv_.notify_all();
  return true;
}

bool event_recorder::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && !busy_;
}

void event_recorder::run() {
  auto next_flush = std::chrono::steady_clock::now() + options_.tick;
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait_until(lock, next_flush, [this] { return stopping_ || !queue_.empty(); });
    // One record at a time, so record() never waits behind an API call.
    while (!queue_.empty()) {
      event_record r = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      handle(std::move(r));
      lock.lock();
      busy_ = false;
    }
    const bool last = stopping_;
    if (last || std::chrono::steady_clock::now() >= next_flush) {
      busy_ = true;
      lock.unlock();
      flush_series(last);
      lock.lock();
      busy_ = false;
      next_flush = std::chrono::steady_clock::now() + options_.tick;
    }
    if (last && queue_.empty()) break;
  }
  finished_ = true;
  cv_.notify_all();  // stop() waits for this
}

std::string event_recorder::new_name(std::string_view regarding_name) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  auto unique =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  if (unique <= last_unique_) unique = last_unique_ + 1;
  last_unique_ = unique;
  return event_name(regarding_name, unique);
}

void event_recorder::handle(event_record r) {
  const auto now = std::chrono::steady_clock::now();
  const auto wall = std::chrono::system_clock::now();
  std::string key;
  switch (correlator_.observe(r, now, wall, key)) {
    case event_correlator::verdict::aggregated:
      aggregated_.fetch_add(1, std::memory_order_relaxed);
      return;
    case event_correlator::verdict::rate_limited:
      rate_limited_.fetch_add(1, std::memory_order_relaxed);
      return;
    case event_correlator::verdict::create:
      break;
  }
  const std::string ns = event_namespace(r.regarding);
  std::string name = new_name(r.regarding.name);
  auto created = sink_->create(ns, encode_event(r, name, options_.reporting_instance, wall));
  if (!created) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    correlator_.create_failed(key);
    note_failure(created.error(), "create");
    return;
  }
  sent_.fetch_add(1, std::memory_order_relaxed);
  correlator_.created(key, ns, std::move(name), std::chrono::steady_clock::now());
  note_success();
}

void event_recorder::flush_series(bool all) {
  for (auto& u : correlator_.due(std::chrono::steady_clock::now(), all)) {
    const event_series series{u.count, u.last_observed};
    auto patched = sink_->merge_patch(u.namespace_name, u.name, encode_series_patch(series));
    std::string name = u.name;
    if (!patched && patched.error().kind == k8s::failure_kind::not_found) {
      // Gone (the API server's event TTL, an hour by default): the series goes on in a new one.
      name = new_name(u.record.regarding.name);
      auto created =
          sink_->create(u.namespace_name, encode_event(u.record, name, options_.reporting_instance,
                                                       std::chrono::system_clock::now(), series));
      if (created) {
        patched = std::move(*created);
      } else {
        patched = created.error();
      }
    }
    if (!patched) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      correlator_.write_failed(u.key, std::chrono::steady_clock::now());
      note_failure(patched.error(), "patch");
      continue;
    }
    sent_.fetch_add(1, std::memory_order_relaxed);
    correlator_.written(u.key, std::move(name), u.count, std::chrono::steady_clock::now());
    note_success();
  }
}

void event_recorder::note_failure(const k8s::api_error& e, std::string_view what) {
  // An event into a namespace being deleted or already gone: expected, not a problem.
  if (classify_failure(e) == failure_class::gone) {
    logging::event(level::debug, "event not written",
                   {{"verb", what}, {"kind", k8s::to_string(e.kind)}, {"error", e.message}});
    return;
  }
  if (failing_) return;  // one line per change, not per event
  failing_ = true;
  if (log_unfixable(e, what, k8s::events.rbac_name())) return;
  logging::event(level::warn, "events not written (counted in mlnetpol_events_total)",
                 {{"verb", what},
                  {"kind", k8s::to_string(e.kind)},
                  {"status", static_cast<int>(e.status)},
                  {"error", e.message}});
}

void event_recorder::note_success() {
  if (!failing_) return;
  failing_ = false;
  logging::event(level::info, "events written again", {});
}

std::uint64_t event_recorder::count(result r) const {
  switch (r) {
    case result::sent:
      return sent_.load();
    case result::aggregated:
      return aggregated_.load();
    case result::rate_limited:
      return rate_limited_.load();
    case result::dropped:
      return dropped_.load();
    case result::failed:
      return failed_.load();
  }
  return 0;
}

void event_recorder::render_metrics(std::string& out) const {
  constexpr std::string_view name = "mlnetpol_events_total";
  obs::append_family_header(
      out, name, "counter",
      "Kubernetes Events: sent and failed are writes to the API server (creates and series "
      "patches); aggregated, rate_limited and dropped (queue full) are occurrences not written "
      "on their own.");
  const std::pair<std::string_view, result> rows[] = {{"aggregated", result::aggregated},
                                                      {"dropped", result::dropped},
                                                      {"failed", result::failed},
                                                      {"rate_limited", result::rate_limited},
                                                      {"sent", result::sent}};
  for (const auto& [label, r] : rows) obs::append_sample(out, name, "result", label, count(r));
}

}  // namespace mlnetpol::controller
