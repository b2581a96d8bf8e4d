#pragma once
// Prometheus metrics primitives and the registry /metrics renders. Each owner (server, app,
// controller) keeps its own families and registers a collector that appends them in the text
// exposition format (version 0.0.4). Cheap on the request path: relaxed atomics for fixed series,
// one uncontended mutex and no allocation (after the first sighting) for labelled counters, a
// relaxed add for a labelled series a caller found once (labeled_counter::series).
// Label values must come from closed sets: callers map request data to a fixed list first.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlnetpol::obs {

// Seconds since the Unix epoch, now: the value of the *_timestamp_seconds gauges.
double unix_seconds_now();

// One unlabelled counter series; a relaxed add, so it costs nothing on the request path.
class counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// One unlabelled gauge series (gauge<double> for timestamps: set(unix_seconds_now())).
template <typename T>
class gauge {
 public:
  void set(T v) { value_.store(v, std::memory_order_relaxed); }
  void add(T delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  T value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<T> value_{0};
};

// A counter family with string labels.
class labeled_counter {
 public:
  explicit labeled_counter(std::initializer_list<std::string_view> label_names);
  void add(std::initializer_list<std::string_view> label_values, std::uint64_t n = 1) {
    series(label_values).fetch_add(n, std::memory_order_relaxed);
  }
  // The count of one series, created at 0 when new. It stays where it is for the counter's life,
  // so a hot path may find a series once and then add to it with a relaxed atomic, no lookup.
  std::atomic<std::uint64_t>& series(std::initializer_list<std::string_view> label_values);
  std::uint64_t value(std::initializer_list<std::string_view> label_values) const;
  std::size_t series() const;
  // Appends `name{a="x",b="y"} N` lines, sorted by labels.
  void render(std::string& out, std::string_view name) const;

 private:
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static void make_key(std::string& key, std::initializer_list<std::string_view> values);
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  // Nodes of an unordered_map never move, so series() can hand out references.
  std::unordered_map<std::string, std::atomic<std::uint64_t>, hash, std::equal_to<>> values_;
};

// Buckets are fixed at construction: `bounds` (ascending upper bounds in seconds) must outlive the
// histogram, e.g. one of the constexpr arrays below. Observing is a binary search and relaxed adds.
class histogram {
 public:
  // Admission latencies: 0.1 ms to 2.5 s.
  static constexpr std::array<double, 14> latency_bounds{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  histogram() : histogram(latency_bounds) {}
  explicit histogram(std::span<const double> bounds);
  void observe(double seconds);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // labels: `a="x"` without braces, already escaped; empty for a histogram without labels.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::span<const double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, one per bound
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Escapes a label value for the text format (backslash, double quote, newline).
void append_label_value(std::string& out, std::string_view value);
// `# HELP name help` and `# TYPE name type` lines.
void append_family_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);
void append_number(std::string& out, double v);  // shortest exact form
void append_number(std::string& out, std::uint64_t v);
void append_number(std::string& out, std::int64_t v);
// One sample line: `name{labels} value`, or `name value` when labels is empty (labels:
// `a="x",b="y"`, already escaped).
template <typename T>
void append_sample(std::string& out, std::string_view name, std::string_view labels, T value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}
// One sample line with one label, its value escaped here: `name{label="value"} n`.
template <typename T>
void append_sample(std::string& out, std::string_view name, std::string_view label,
                   std::string_view label_value, T value) {
  std::string labels(label);
  labels += "=\"";
  append_label_value(labels, label_value);
  labels += '"';
  append_sample(out, name, labels, value);
}
// A family with one unlabelled sample: header and `name value`.
template <typename T>
void append_single(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, T value) {
  append_family_header(out, name, type, help);
  append_sample(out, name, {}, value);
}

class registry {
 public:
  using collector = std::function<void(std::string& out)>;

  // Unregisters on destruction, so an owner that goes away takes its families with it.
  class registration {
   public:
    registration() = default;
    registration(registration&&) noexcept = default;
    registration& operator=(registration&&) noexcept = default;
    ~registration();

   private:
    friend class registry;
    struct entry;
    registration(std::shared_ptr<entry> e) : entry_(std::move(e)) {}
    std::shared_ptr<entry> entry_;
  };

  registry();
  // Families render in the order their owners registered.
  [[nodiscard]] registration add(collector c);
  std::string render() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace mlnetpol::obs
