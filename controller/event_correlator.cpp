#include "controller/event_correlator.hpp"

#include <algorithm>

namespace mlnetpol::controller {
namespace {

void append_field(std::string& key, std::string_view part) {
  key.append(part);
  key.push_back('\x1f');  // never in names, kinds or reasons
}

void append_ref(std::string& key, const object_ref& r) {
  append_field(key, r.api_version);
  append_field(key, r.kind);
  append_field(key, r.namespace_name);
  append_field(key, r.name);
}

// The per-object bucket: the regarding object and the reason (client-go's spam key).
std::string bucket_key(const event_record& r) {
  std::string key;
  append_ref(key, r.regarding);
  append_field(key, r.reason);
  return key;
}

// The per-namespace bucket: who reports (the reconciler's own events never compete with the
// webhook's, which a forged review can cause) and the namespace concerned.
std::string namespace_bucket_key(const event_record& r) {
  std::string key;
  append_field(key, r.reporting_controller);
  key.append(concerned_namespace(r.regarding));
  return key;
}

// Identical events: one series.
std::string series_key(const event_record& r) {
  std::string key;
  key.reserve(64 + r.note.size());
  append_field(key, r.reporting_controller);
  append_ref(key, r.regarding);
  append_field(key, to_string(r.type));
  append_field(key, r.action);
  append_field(key, r.reason);
  key.append(r.note);
  return key;
}

}  // namespace

std::string_view to_string(event_type t) {
  return t == event_type::warning ? "Warning" : "Normal";
}

std::string_view concerned_namespace(const object_ref& regarding) {
  if (!regarding.namespace_name.empty()) return regarding.namespace_name;
  if (regarding.kind == "Namespace" && regarding.api_version == "v1") return regarding.name;
  return {};
}

std::string truncate_note(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  constexpr std::string_view ellipsis = "...";
  std::size_t cut = limit > ellipsis.size() ? limit - ellipsis.size() : 0;
  // Back up over UTF-8 continuation bytes so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out(text.substr(0, cut));
  if (out.size() + ellipsis.size() <= limit) out += ellipsis;
  return out;
}

std::optional<event_record> denial_event(std::string_view group, std::string_view version,
                                         std::string_view kind, std::string_view namespace_name,
                                         std::string_view name, std::string_view message) {
  event_record r;
  r.type = event_type::warning;
  r.reporting_controller = webhook_controller;
  r.action = "Deny";
  r.reason = "WorkloadDenied";
  r.note = truncate_note(message.empty() ? "denied by mlnetpol" : message);
  const bool is_namespace = group.empty() && kind == "Namespace";
  if (!name.empty()) {
    r.regarding.api_version =
        group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
    r.regarding.kind = kind;
    r.regarding.name = name;
    // A Namespace request carries its own name as namespace; the object is cluster-scoped.
    if (!is_namespace) r.regarding.namespace_name = namespace_name;
    return r;
  }
  const std::string_view ns = is_namespace ? std::string_view() : namespace_name;
  if (ns.empty()) return std::nullopt;
  r.regarding = {"v1", "Namespace", "", std::string(ns)};
  return r;
}

namespace {
event_record policy_set_event(std::string_view namespace_name, std::string note, bool failed) {
  event_record r;
  r.regarding = {"v1", "Namespace", "", std::string(namespace_name)};
  r.type = failed ? event_type::warning : event_type::normal;
  r.reporting_controller = reconciler_controller;
  r.action = "Reconcile";
  r.reason = failed ? "PolicySetFailed" : "PolicySetApplied";
  r.note = truncate_note(note);
  return r;
}
}  // namespace

event_record policy_set_applied(std::string_view namespace_name, std::string note) {
  return policy_set_event(namespace_name, std::move(note), false);
}
event_record policy_set_failed(std::string_view namespace_name, std::string note) {
  return policy_set_event(namespace_name, std::move(note), true);
}
event_record policy_repaired(object_ref regarding, bool adopted, std::string_view detail) {
  event_record r;
  r.regarding = std::move(regarding);
  r.type = event_type::warning;
  r.reporting_controller = reconciler_controller;
  r.action = "Replace";
  r.reason = adopted ? "PolicyAdopted" : "PolicyRepaired";
  r.note = truncate_note(
      std::string(adopted ? "adopted: mlnetpol did not create this object; its spec was replaced "
                            "with the rendered one ("
                          : "repaired: someone else wrote this object; it was replaced with the "
                            "rendered one (") +
      std::string(detail) + ")");
  return r;
}

// --- LRU ---

template <class V>
V* event_correlator::lru<V>::find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return &it->second->second;
}

template <class V>
V& event_correlator::lru<V>::insert(const std::string& key, V value, std::size_t capacity) {
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->second = std::move(value);
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  order_.emplace_front(key, std::move(value));
  index_.emplace(key, order_.begin());
  while (index_.size() > std::max<std::size_t>(capacity, 1)) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
  return order_.front().second;
}

template <class V>
void event_correlator::lru<V>::erase(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

template <class V>
typename event_correlator::lru<V>::iterator event_correlator::lru<V>::erase(iterator it) {
  index_.erase(it->first);
  return order_.erase(it);
}

template <class V>
V* event_correlator::lru<V>::peek(const std::string& key) {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &it->second->second;
}

// --- correlator ---

event_correlator::verdict event_correlator::observe(const event_record& r, clock::time_point now,
                                                    wall_clock::time_point wall, std::string& key) {
  key = series_key(r);
  if (series* s = series_.find(key);
      s != nullptr && !s->name.empty() && now - s->last_observed <= limits_.series_window) {
    ++s->count;
    s->last_observed = now;
    s->last_observed_wall = wall;
    return verdict::aggregated;
  }
  if (!global_) global_.emplace(limits_.global_burst, limits_.global_refill, now);
  const std::string bkey = bucket_key(r);
  token_bucket* bucket = buckets_.find(bkey);
  if (bucket == nullptr) {
    bucket = &buckets_.insert(bkey, token_bucket(limits_.object_burst, limits_.object_refill, now),
                              limits_.max_keys);
  }
  const std::string nkey = namespace_bucket_key(r);
  token_bucket* ns_bucket = namespace_buckets_.find(nkey);
  if (ns_bucket == nullptr) {
    ns_bucket = &namespace_buckets_.insert(
        nkey, token_bucket(limits_.namespace_burst, limits_.namespace_refill, now),
        limits_.max_namespaces);
  }
  // All or none: a token is not spent on an event another bucket refuses.
  if (!bucket->available(now) || !ns_bucket->available(now) || !global_->available(now)) {
    return verdict::rate_limited;
  }
  bucket->take();
  ns_bucket->take();
  global_->take();
  series s;
  s.record = r;
  s.last_observed = now;
  s.last_observed_wall = wall;
  s.last_write = now;
  series_.insert(key, std::move(s), limits_.max_keys);
  return verdict::create;
}

void event_correlator::created(const std::string& key, std::string namespace_name, std::string name,
                               clock::time_point now) {
  if (series* s = series_.find(key)) {
    s->namespace_name = std::move(namespace_name);
    s->name = std::move(name);
    s->last_write = now;
  }
}

void event_correlator::create_failed(const std::string& key) {
  series_.erase(key);  // the next occurrence tries a create again (with tokens)
}

std::vector<event_correlator::series_update> event_correlator::due(clock::time_point now,
                                                                   bool all) {
  std::vector<series_update> out;
  auto& entries = series_.entries();
  for (auto it = entries.begin(); it != entries.end();) {
    series& s = it->second;
    const bool pending = s.count > s.written;
    const auto idle = now - s.last_observed;
    // Done (idle beyond the window, all written), or a count that could not be written for two
    // windows (tokens exhausted, API server down): forgotten.
    if (s.name.empty() || (!pending && idle > limits_.series_window) ||
        idle > 2 * limits_.series_window) {
      it = series_.erase(it);
      continue;
    }
    if (pending && (all || now - s.last_write >= limits_.series_interval)) {
      if (!global_) global_.emplace(limits_.global_burst, limits_.global_refill, now);
      if (!global_->available(now)) break;  // the rest waits for the next round
      global_->take();
      out.push_back({it->first, s.namespace_name, s.name, s.count, s.last_observed_wall, s.record});
    }
    ++it;
  }
  return out;
}

void event_correlator::written(const std::string& key, std::string name, std::uint64_t count,
                               clock::time_point now) {
  // peek: a series' own write does not keep it alive in the LRU, only occurrences do.
  if (series* s = series_.peek(key)) {
    s->written = std::max(s->written, count);
    s->name = std::move(name);
    s->last_write = now;
  }
}

void event_correlator::write_failed(const std::string& key, clock::time_point now) {
  if (series* s = series_.peek(key)) s->last_write = now;
}

}  // namespace mlnetpol::controller
