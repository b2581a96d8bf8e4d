#pragma once
// Kubernetes Events (events.k8s.io/v1) written off every request path: record() hands a small
// record to a bounded queue (a full queue drops it and counts it) and returns; one thread takes
// records through the event_correlator (series, token buckets) and writes through an event_sink
// (k8s::client in production). Counted in mlnetpol_events_total{result}.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "controller/event_correlator.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::controller {

// The two calls the recorder makes.
class event_sink {
 public:
  virtual ~event_sink() = default;
  // POST /apis/events.k8s.io/v1/namespaces/NS/events
  virtual k8s::api_result<k8s::object_meta> create(std::string_view namespace_name,
                                                   std::string_view json_body) = 0;
  // PATCH (JSON merge patch) of one event: its series.
  virtual k8s::api_result<k8s::object_meta> merge_patch(std::string_view namespace_name,
                                                        std::string_view name,
                                                        std::string_view json_patch) = 0;
  // Ends calls in flight (shutdown); irreversible.
  virtual void cancel() = 0;
};
std::unique_ptr<event_sink> make_client_event_sink(std::unique_ptr<k8s::client> client);

// --- the wire format ---
// The namespace an event about `regarding` lives in: the object's, or "default" for a
// cluster-scoped one (the API server refuses any other for an empty regarding.namespace).
std::string event_namespace(const object_ref& regarding);
// "<regarding name>.<16 hex digits>" (client-go: name.unixnano): a DNS subdomain of at most 253.
std::string event_name(std::string_view regarding_name, std::uint64_t unique);
// The Event object for POST; eventTime (and series.lastObservedTime) as MicroTime, which the API
// server requires ("2026-11-30T15:30:07.000000Z"); series only with count >= 2.
struct event_series {
  std::uint64_t count = 0;
  std::chrono::system_clock::time_point last_observed;
};
std::string encode_event(const event_record& r, std::string_view name,
                         std::string_view reporting_instance,
                         std::chrono::system_clock::time_point event_time,
                         const std::optional<event_series>& series = std::nullopt);
// {"series":{"count":N,"lastObservedTime":"..."}}
std::string encode_series_patch(const event_series& series);

// $POD_NAME, else the hostname; at most reporting_instance_limit bytes.
std::string default_reporting_instance();

struct event_recorder_options {
  std::string reporting_instance = default_reporting_instance();
  std::size_t queue_capacity = 1024;
  event_limits limits;
  std::chrono::milliseconds tick{std::chrono::seconds(1)};  // how often series are looked at
  // At stop: how long pending series counts may take to be written before calls are cancelled.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(2)};
};

class event_recorder {
 public:
  event_recorder(std::unique_ptr<event_sink> sink, event_recorder_options options = {});
  ~event_recorder();
  event_recorder(const event_recorder&) = delete;
  event_recorder& operator=(const event_recorder&) = delete;

  void start();
  // Writes what is queued and the pending series counts (within stop_grace), then ends.
  // Idempotent.
  void stop();

  // Never blocks on the API server: false when the queue is full (the record is dropped and
  // counted). Thread-safe; records before start() wait in the queue.
  bool record(event_record r);

  enum class result { sent, aggregated, rate_limited, dropped, failed };
  std::uint64_t count(result r) const;
  // mlnetpol_events_total{result="sent|aggregated|rate_limited|dropped|failed"}
  void render_metrics(std::string& out) const;

  // Nothing queued or being written (tests).
  bool idle() const;

 private:
  void run();
  void handle(event_record r);
  void flush_series(bool all);
  void note_failure(const k8s::api_error& e, std::string_view what);
  void note_success();
  std::string new_name(std::string_view regarding_name);

  std::unique_ptr<event_sink> sink_;
  event_recorder_options options_;
  event_correlator correlator_;  // the worker's alone

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<event_record> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  bool started_ = false;
  bool stopped_ = false;
  bool finished_ = false;  // the worker wrote what it could and ended
  std::thread worker_;

  std::atomic<std::uint64_t> sent_{0}, aggregated_{0}, rate_limited_{0}, dropped_{0}, failed_{0};
  bool failing_ = false;  // the last write failed (logged once per change)
  std::uint64_t last_unique_ = 0;
};

}  // namespace mlnetpol::controller
