#include "common/obs/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace mlnetpol::obs {
namespace {

constexpr char key_separator = '\x1f';  // not in any label value mlnetpol exports

}  // namespace

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void append_number(std::string& out, double v) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_number(std::string& out, std::int64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_family_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

labeled_counter::labeled_counter(std::initializer_list<std::string_view> label_names) {
  for (auto n : label_names) names_.emplace_back(n);
}

void labeled_counter::make_key(std::string& key, std::initializer_list<std::string_view> values) {
  key.clear();
  for (auto v : values) {
    key += v;
    key += key_separator;
  }
}

std::atomic<std::uint64_t>& labeled_counter::series(
    std::initializer_list<std::string_view> label_values) {
  thread_local std::string key;
  make_key(key, label_values);
  std::lock_guard lock(mutex_);
  if (auto it = values_.find(std::string_view(key)); it != values_.end()) return it->second;
  return values_.try_emplace(key, 0).first->second;
}

std::uint64_t labeled_counter::value(std::initializer_list<std::string_view> label_values) const {
  std::string key;
  make_key(key, label_values);
  std::lock_guard lock(mutex_);
  auto it = values_.find(std::string_view(key));
  return it == values_.end() ? 0 : it->second.load(std::memory_order_relaxed);
}

std::size_t labeled_counter::series() const {
  std::lock_guard lock(mutex_);
  return values_.size();
}

void labeled_counter::render(std::string& out, std::string_view name) const {
  std::vector<std::pair<std::string, std::uint64_t>> rows;
  {
    std::lock_guard lock(mutex_);
    rows.reserve(values_.size());
    for (const auto& [key, count] : values_)
      rows.emplace_back(key, count.load(std::memory_order_relaxed));
  }
  std::sort(rows.begin(), rows.end());
  for (const auto& [key, count] : rows) {
    out += name;
    out += '{';
    std::size_t start = 0;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const std::size_t end = key.find(key_separator, start);
      if (i) out += ',';
      out += names_[i];
      out += "=\"";
      append_label_value(out, std::string_view(key).substr(start, end - start));
      out += '"';
      start = end + 1;
    }
    out += "} ";
    append_number(out, count);
    out += '\n';
  }
}

histogram::histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size())) {}

void histogram::observe(double seconds) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), seconds);
  if (it != bounds_.end()) {
    buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1,
                                                                       std::memory_order_relaxed);
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  auto line = [&](std::string_view suffix, std::string_view le, auto value) {
    out += name;
    out += suffix;
    if (!labels.empty() || !le.empty()) {
      out += '{';
      out += labels;
      if (!le.empty()) {
        if (!labels.empty()) out += ',';
        out += "le=\"";
        out += le;
        out += '"';
      }
      out += '}';
    }
    out += ' ';
    append_number(out, value);
    out += '\n';
  };
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    // Fixed notation, as people write bounds ("0.0001", not the shorter "1e-04").
    char le[32];
    const auto written = std::to_chars(le, le + sizeof le, bounds_[i], std::chars_format::fixed);
    line("_bucket", std::string_view(le, written.ptr), cumulative);
  }
  const std::uint64_t total = count();
  line("_bucket", "+Inf", total);
  line("_sum", "", static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  line("_count", "", total);
}

struct registry::registration::entry {
  std::weak_ptr<registry::state> owner;
  collector render;
};

struct registry::state {
  mutable std::mutex mutex;
  std::vector<std::shared_ptr<registration::entry>> entries;
};

registry::registry() : state_(std::make_shared<state>()) {}

registry::registration::~registration() {
  if (!entry_) return;
  if (auto s = entry_->owner.lock()) {
    std::lock_guard lock(s->mutex);
    std::erase(s->entries, entry_);
  }
}

registry::registration registry::add(collector c) {
  auto e = std::make_shared<registration::entry>();
  e->owner = state_;
  e->render = std::move(c);
  std::lock_guard lock(state_->mutex);
  state_->entries.push_back(e);
  return registration(std::move(e));
}

std::string registry::render() const {
  std::vector<std::shared_ptr<registration::entry>> entries;
  {
    std::lock_guard lock(state_->mutex);
    entries = state_->entries;
  }
  std::string out;
  out.reserve(8192);
  for (const auto& e : entries) e->render(out);
  return out;
}

}  // namespace mlnetpol::obs
