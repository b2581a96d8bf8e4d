#pragma once
// What mlnetpol reports as Kubernetes Events (events.k8s.io/v1) and how often it may: client-go's
// EventCorrelator in small. A repeat of an event already written (same regarding object, reason,
// type, action, note) within the series window is counted into that event's `series` and written
// as one merge patch per series interval at most; a new event needs a token from its (regarding
// object, reason) bucket, from its (reporting controller, namespace) bucket and from the global
// bucket. The namespace buckets keep one namespace's flood (forged AdmissionReviews can name any
// object in any namespace) from spending the global bucket that every other namespace's events
// need. Buckets and series live in LRU maps of bounded size. Pure: no clock, no I/O (the recorder
// passes the time in); one thread at a time.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/token_bucket.hpp"

namespace mlnetpol::controller {

// The object an event is about (events.k8s.io regarding); namespace_name "" for cluster-scoped.
struct object_ref {
  std::string api_version;  // "v1", "apps/v1"
  std::string kind;
  std::string namespace_name;
  std::string name;
};

enum class event_type { normal, warning };
std::string_view to_string(event_type t);  // "Normal" | "Warning"

// The API's limits (k8s.io/kubernetes pkg/apis/core/validation/events.go).
inline constexpr std::size_t note_limit = 1024;
inline constexpr std::size_t reporting_instance_limit = 128;

// One occurrence, as handed to the recorder: small, built off the API's path.
struct event_record {
  object_ref regarding;
  event_type type = event_type::normal;
  std::string_view reporting_controller;  // static strings: "mlnetpol.io/webhook", ...
  std::string_view action;
  std::string_view reason;
  std::string note;  // at most note_limit bytes (truncate_note)
};

inline constexpr std::string_view webhook_controller = "mlnetpol.io/webhook";
inline constexpr std::string_view reconciler_controller = "mlnetpol.io/reconciler";

// `text` cut to at most `limit` bytes on a UTF-8 character boundary, "..." marking the cut.
std::string truncate_note(std::string_view text, std::size_t limit = note_limit);

// The namespace an event is about: the regarding object's, a Namespace's own name, "" for other
// cluster-scoped objects. (Not event_namespace(): a Namespace's events live in "default".)
std::string_view concerned_namespace(const object_ref& regarding);

// An admission denial: regarding the object when the request names it, else its namespace (a
// generateName create). nullopt when there is nothing to regard (no name, no namespace).
std::optional<event_record> denial_event(std::string_view group, std::string_view version,
                                         std::string_view kind, std::string_view namespace_name,
                                         std::string_view name, std::string_view message);
// The reconciler wrote a namespace's policy set (Normal) or could not (Warning, the API's answer).
event_record policy_set_applied(std::string_view namespace_name, std::string note);
event_record policy_set_failed(std::string_view namespace_name, std::string note);
// The reconciler replaced a managed object someone else had written (PolicyRepaired) or one it
// had not created (PolicyAdopted); Warning, regarding the object.
event_record policy_repaired(object_ref regarding, bool adopted, std::string_view detail);

struct event_limits {
  std::size_t max_keys = 4096;  // series and per-object buckets each (LRU)
  // Per (regarding object, reason): client-go's spam filter (burst 25, one more every 5 minutes).
  double object_burst = 25;
  std::chrono::milliseconds object_refill{std::chrono::minutes(5)};  // one token per
  // Per (reporting controller, namespace the event concerns): well below the global refill, so
  // it takes dozens of namespaces flooding at once to keep the global bucket empty. At most
  // max_namespaces buckets (LRU: invented namespaces push out the least recently used, which start
  // full again when they come back).
  double namespace_burst = 20;
  std::chrono::milliseconds namespace_refill{std::chrono::seconds(30)};  // one token per
  std::size_t max_namespaces = 1024;
  // Every new event and every series patch of this process.
  double global_burst = 50;
  std::chrono::milliseconds global_refill{std::chrono::seconds(1)};
  // A series' count is written at most this often; repeats further apart than the window start a
  // new event (client-go: 30 min heartbeat, 6 min window; shorter here so people see counts move).
  std::chrono::milliseconds series_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds series_window{std::chrono::minutes(6)};
};

class event_correlator {
 public:
  using clock = std::chrono::steady_clock;
  using wall_clock = std::chrono::system_clock;

  explicit event_correlator(event_limits limits = {}) : limits_(limits) {}

  enum class verdict {
    create,        // write a new Event (then created() or create_failed())
    aggregated,    // counted into the series of the event written before
    rate_limited,  // no token: not written, not counted
  };
  // key: the series key, for created()/create_failed().
  verdict observe(const event_record& r, clock::time_point now, wall_clock::time_point wall,
                  std::string& key);
  void created(const std::string& key, std::string namespace_name, std::string name,
               clock::time_point now);
  void create_failed(const std::string& key);

  // A series whose count the API server does not have yet.
  struct series_update {
    std::string key;
    std::string namespace_name;
    std::string name;
    std::uint64_t count = 0;
    wall_clock::time_point last_observed;
    event_record record;  // to write it anew when the event is gone (404: its TTL ran out)
  };
  // The series to patch now: a count not written yet and the interval passed since the last write
  // (or `all`: shutdown), each with a global token. Forgets series idle beyond the window.
  std::vector<series_update> due(clock::time_point now, bool all = false);
  void written(const std::string& key, std::string name, std::uint64_t count,
               clock::time_point now);
  void write_failed(const std::string& key, clock::time_point now);  // retried next interval

  std::size_t series_count() const { return series_.size(); }
  std::size_t bucket_count() const { return buckets_.size(); }
  std::size_t namespace_bucket_count() const { return namespace_buckets_.size(); }

 private:
  struct series {
    event_record record;
    std::string namespace_name;
    std::string name;  // "" until created
    std::uint64_t count = 1;
    std::uint64_t written = 1;  // what the API server holds
    clock::time_point last_observed;
    wall_clock::time_point last_observed_wall;
    clock::time_point last_write;
  };

  // Least recently used last; bounded by limits_.max_keys.
  template <class V>
  class lru {
   public:
    using iterator = typename std::list<std::pair<std::string, V>>::iterator;
    V* find(const std::string& key);  // and marks it used
    V* peek(const std::string& key);  // without marking it used
    V& insert(const std::string& key, V value, std::size_t capacity);
    void erase(const std::string& key);
    iterator erase(iterator it);  // the next one
    std::size_t size() const { return index_.size(); }
    std::list<std::pair<std::string, V>>& entries() { return order_; }

   private:
    std::list<std::pair<std::string, V>> order_;
    std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
  };

  event_limits limits_;
  lru<series> series_;
  lru<token_bucket> buckets_;
  lru<token_bucket> namespace_buckets_;
  std::optional<token_bucket> global_;
};

}  // namespace mlnetpol::controller
