#include "controller/manager.hpp"

#include <algorithm>
#include <optional>
#include <random>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/obs/logging.hpp"
#include "policy/namespaces.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

// The pass after gaining the lease reads the watches' store (kept on every replica) rather than
// listing every managed object again right after the relists of a restarted API server.
constexpr const char* became_leader = "became leader";

std::string now_rfc3339() {
  std::string t = k8s::format_micro_time(std::chrono::system_clock::now());
  return t.substr(0, 19) + "Z";  // seconds are enough for people
}

// What an Event says about a reconcile; no counters that change between retries, so repeats of
// one failure aggregate into one event's series.
std::string policy_set_note(const reconcile_outcome& out) {
  std::string note = "policy set applied: " + std::to_string(out.applied) + " written, " +
                     std::to_string(out.pruned) + " pruned";
  std::string held;
  for (const auto& [kind, n] : out.managed)
    held += (held.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
  if (!held.empty()) note += "; in place: " + held;
  return note;
}

std::string policy_set_failure_note(const reconcile_outcome& out) {
  std::string note = "policy set not applied (" + std::string(to_string(out.status)) +
                     (out.status == reconcile_status::retry ? ", retrying" : "") +
                     "): " + out.message;
  for (const auto& c : out.causes) note += "; " + c;
  return note;
}

// What a reconcile reads of a managed object (reconciler::observe): the store keeps 10,000s.
k8s::object_meta compact(k8s::object_meta meta) {
  meta.labels.clear();
  meta.api_version.clear();
  meta.uid.clear();
  for (auto it = meta.annotations.begin(); it != meta.annotations.end();) {
    it = it->first == policy::spec_hash_annotation ? std::next(it) : meta.annotations.erase(it);
  }
  return meta;
}

}  // namespace

manager::manager(std::unique_ptr<cluster> api, policy::config initial, manager_options options)
    : api_(std::move(api)),
      options_(std::move(options)),
      queue_(options_.backoff),
      reconciler_(*api_, cache_),
      elector_(*api_, options_.election),
      desired_(std::make_shared<const desired_state>(std::move(initial))) {}

manager::~manager() {
  stop();
}

std::function<void(std::string_view, std::string_view)> manager::request_observer() {
  return
      [this](std::string_view verb, std::string_view code) { metrics_.count_request(verb, code); };
}

std::shared_ptr<const desired_state> manager::desired() const {
  std::lock_guard lock(config_mutex_);
  return desired_;
}

void manager::start() {
  if (started_) return;
  started_ = true;
  namespace_informer_ = std::make_unique<informer>(
      *api_, k8s::namespaces, "",
      informer_handlers{
          [this](std::vector<k8s::object_meta>&& items) { on_namespace_list(std::move(items)); },
          [this](const k8s::watch_event& e) { on_namespace_event(e); },
          [this](const k8s::api_error& e, bool listing) {
            on_informer_error(k8s::namespaces, e, listing);
          }},
      options_.informers);
  const std::string selector = managed_selector();
  auto managed_informer = [&](const k8s::resource& r) {
    const std::string kind(r.kind);
    return std::make_unique<informer>(
        *api_, r, selector,
        informer_handlers{[this, kind](std::vector<k8s::object_meta>&& items) {
                            on_managed_list(kind, std::move(items));
                          },
                          [this, kind](const k8s::watch_event& e) { on_managed_event(kind, e); },
                          [this, &r](const k8s::api_error& e, bool listing) {
                            on_informer_error(r, e, listing);
                          }},
        options_.informers);
  };
  policy_informer_ = managed_informer(k8s::network_policies);
  cilium_informer_ = managed_informer(k8s::cilium_network_policies);
  if (events_) events_->start();
  namespace_informer_->start();
  policy_informer_->start();
  cilium_informer_->start();
  workers_running_ = std::max(1u, options_.workers);
  for (unsigned i = 0; i < workers_running_; ++i) workers_.emplace_back([this] { worker_loop(); });
  election_thread_ = std::thread([this] { election_loop(); });
  resync_thread_ = std::thread([this] { resync_loop(); });
  logging::event(
      level::info, "reconciler started",
      {{"identity", elector_.identity()},
       {"lease", options_.election.lease_namespace + "/" + options_.election.lease_name},
       {"resync_seconds",
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::seconds>(options_.resync_period).count())}});
}

void manager::step_down() {
  if (!started_ || stopped_) return;
  queue_.shutdown();
  {
    std::lock_guard lock(wait_mutex_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
}

void manager::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Workers first (the reconcile in hand finishes), then the lease goes, then calls in flight end.
  queue_.shutdown();
  for (auto& t : workers_) t.join();
  // After the last reconcile (and the server's drain): what is queued is written, within a grace.
  if (events_) events_->stop();
  {
    std::lock_guard lock(wait_mutex_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  if (election_thread_.joinable()) election_thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
  for (auto* inf : {namespace_informer_.get(), policy_informer_.get(), cilium_informer_.get()})
    inf->request_stop();
  api_->cancel();
  for (auto* inf : {namespace_informer_.get(), policy_informer_.get(), cilium_informer_.get()})
    inf->join();
  leader_.store(false);
  metrics_.set_leader(false);
}

bool manager::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mutex_);
  return !wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void manager::update_config(policy::config cfg) {
  // Indexed outside the lock; the old renders go with the old configuration.
  auto next = std::make_shared<const desired_state>(std::move(cfg));
  {
    std::lock_guard lock(config_mutex_);
    desired_ = std::move(next);
  }
  full_sync("configuration reload");
}

bool manager::relevant(const desired_state& desired, const std::string& ns,
                       const label_map* labels) const {
  const auto roles = desired.roles(ns);
  if (roles.secured || roles.ml()) return true;
  if (labels != nullptr && has_owned_label(*labels)) return true;
  std::lock_guard lock(managed_mutex_);
  return managed_.contains(ns);
}

void manager::full_sync(const char* why) {
  {
    std::lock_guard lock(wait_mutex_);
    pass_request_ = why;
  }
  wait_cv_.notify_all();
}

// Queues every namespace mlnetpol has business with: the configuration's (that exist), those
// carrying its labels (left the lists?) and those holding its objects (prune).
void manager::run_pass(const std::string& why) {
  if (!leader_.load()) return;
  if (!cache_.synced()) {
    std::lock_guard lock(state_mutex_);
    full_sync_wanted_ = true;
    return;
  }
  // The managed objects of every namespace, in one list per kind. A failed list only means the
  // reconciles list their namespace themselves.
  std::map<std::string, prelisted> lists;
  const bool from_watches = why == became_leader && store_synced();
  bool listed = !from_watches;
  bool cilium_missing = false;
  const std::string selector = managed_selector();
  for (const k8s::resource* r : {&k8s::network_policies, &k8s::cilium_network_policies}) {
    if (from_watches) break;
    auto page = api_->list_all(*r, "", selector);
    if (!page) {
      if (page.error().kind == k8s::failure_kind::crd_missing) {
        cilium_missing = true;
        continue;
      }
      listed = false;
      break;
    }
    for (auto& item : page->items) {
      item.kind = std::string(r->kind);
      lists[item.namespace_name].objects.push_back(std::move(item));
    }
  }
  const auto want = desired();
  const auto snap = cache_.snapshot();
  std::set<std::string> keys;
  for (const auto& [name, labels] : *snap) {
    if (relevant(*want, name, labels.get())) keys.insert(name);
  }
  {
    std::lock_guard lock(managed_mutex_);
    for (const auto& [ns, kinds] : managed_) keys.insert(ns);
  }
  for (const auto& [ns, l] : lists) keys.insert(ns);
  std::set<std::string> missed;
  {
    std::lock_guard lock(state_mutex_);
    missed.swap(missed_);
    full_sync_wanted_ = false;
    full_pending_ = keys;
    if (keys.empty()) last_full_sync_ = now_rfc3339();
    if (listed) {
      for (const auto& k : keys) {
        prelisted& p = prelisted_[k];
        auto it = lists.find(k);
        p.objects =
            it == lists.end() ? std::vector<k8s::object_meta>{} : std::move(it->second.objects);
        p.cilium_missing = cilium_missing;
      }
    }
  }
  logging::event(level::info, "full sync", {{"reason", why}, {"namespaces", keys.size()}});
  for (const auto& k : missed) queue_.add(k);  // first: the queue is FIFO and deduplicates
  for (const auto& k : keys) queue_.add(k);
  full_syncs_.fetch_add(1);
}

void manager::worker_loop() {
  while (auto key = queue_.get()) {
    process(*key);
    queue_.done(*key);
  }
  {
    std::lock_guard lock(wait_mutex_);
    --workers_running_;
  }
  wait_cv_.notify_all();
}

void manager::process(const std::string& ns) {
  // Only the leader writes; a replica that gains the lease queues everything anew.
  if (!leader_.load()) {
    queue_.forget(ns);
    return;
  }
  const auto want = desired();
  std::optional<prelisted> listed;
  bool cilium_known_missing;
  {
    std::lock_guard lock(state_mutex_);
    if (auto it = prelisted_.find(ns); it != prelisted_.end()) {
      listed = std::move(it->second);
      prelisted_.erase(it);
    }
    cilium_known_missing = crd_missing_;
  }
  // Not from a pass: what the watches hold, so a relist or an event costs no list calls.
  if (!listed) listed = from_store(ns);
  const auto t0 = std::chrono::steady_clock::now();
  reconcile_outcome out =
      reconciler_.reconcile(*want, ns, listed ? &*listed : nullptr, cilium_known_missing);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  metrics_.count_reconcile(to_string(out.status), seconds);

  bool settled = true;  // false: retried later, so not part of a completed full sync yet
  switch (out.status) {
    case reconcile_status::ok:
    case reconcile_status::audited:
    case reconcile_status::absent:
    case reconcile_status::dropped:
    case reconcile_status::skipped:
      queue_.forget(ns);
      break;
    case reconcile_status::invalid:
      // The renderer produced an object the API server rejects: retrying now cannot help.
      queue_.forget(ns);
      metrics_.count_renderer_error();
      break;
    case reconcile_status::retry:
    case reconcile_status::forbidden:
    case reconcile_status::crd_missing:
      queue_.add_rate_limited(ns, out.retry_after);
      settled = false;
      break;
  }

  if (out.status == reconcile_status::forbidden) {
    logging::event(level::err, "reconcile forbidden", {{"namespace", ns}, {"error", out.message}});
  } else if (out.status == reconcile_status::invalid) {
    std::string causes;
    for (const auto& c : out.causes) causes += (causes.empty() ? "" : "; ") + c;
    logging::event(level::err, "API server rejected a rendered object (renderer bug)",
                   {{"namespace", ns}, {"error", out.message}, {"causes", causes}});
  } else if (out.status == reconcile_status::retry || out.status == reconcile_status::crd_missing) {
    logging::event(level::warn, "reconcile failed, retrying",
                   {{"namespace", ns},
                    {"status", to_string(out.status)},
                    {"error", out.message},
                    {"attempt", static_cast<std::uint64_t>(queue_.requeues(ns))}});
  } else if (out.writes() > 0) {
    logging::event(level::info, "namespace reconciled",
                   {{"namespace", ns},
                    {"labels_patched", out.labels_patched ? "true" : "false"},
                    {"applied", static_cast<std::uint64_t>(out.applied)},
                    {"pruned", static_cast<std::uint64_t>(out.pruned)},
                    {"seconds", seconds}});
  }

  const bool failed =
      out.status == reconcile_status::retry || out.status == reconcile_status::forbidden ||
      out.status == reconcile_status::invalid || out.status == reconcile_status::crd_missing;
  if (events_) {
    // Only what changed or failed: an unchanged resync writes no event (nor anything else).
    if (failed) {
      events_->record(policy_set_failed(ns, policy_set_failure_note(out)));
    } else if (out.applied + out.pruned > 0) {
      events_->record(policy_set_applied(ns, policy_set_note(out)));
    }
  }

  std::lock_guard lock(state_mutex_);
  if (failed) {
    errors_[ns] = std::string(to_string(out.status)) + ": " + out.message;
  } else {
    errors_.erase(ns);
  }
  if (out.status == reconcile_status::audited) {
    const std::pair<std::size_t, std::size_t> report{out.would_apply, out.would_prune};
    auto [it, inserted] = audit_.try_emplace(ns, report);
    // One line per namespace when what audit would do changes, not on every resync.
    if (inserted || it->second != report) {
      audit_would_apply_ += report.first - (inserted ? 0 : it->second.first);
      it->second = report;
      logging::event(level::info, "audit: policies not applied",
                     {{"namespace", ns},
                      {"would_apply", static_cast<std::uint64_t>(out.would_apply)},
                      {"would_prune", static_cast<std::uint64_t>(out.would_prune)}});
    }
  } else if (out.status != reconcile_status::retry) {
    erase_audit_locked(ns);
  }
  metrics_.set_audit_would_apply(audit_would_apply_);
  if (settled && full_pending_.erase(ns) == 1 && full_pending_.empty())
    last_full_sync_ = now_rfc3339();
}

void manager::election_loop() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.0, 1.2);
  while (!stopping_.load()) {
    const bool was = leader_.load();
    const bool now = elector_.try_acquire_or_renew(std::chrono::steady_clock::now(),
                                                   std::chrono::system_clock::now());
    leader_.store(now);
    metrics_.set_leader(now);
    if (now && !was) {
      logging::event(level::info, "became leader", {{"identity", elector_.identity()}});
      full_sync(became_leader);
    } else if (!now && was) {
      logging::event(level::warn, "lost leadership", {{"identity", elector_.identity()}});
    }
    // Candidates wait with jitter (client-go's factor 1.2) so they do not retry in lockstep.
    auto wait = options_.election.retry_period;
    if (!now)
      wait += std::chrono::milliseconds(
          static_cast<std::int64_t>(static_cast<double>(wait.count()) * jitter(rng)));
    if (!wait_for(wait)) break;
  }
  {
    // After a step-down the workers may still be writing: the next leader starts after them.
    std::unique_lock lock(wait_mutex_);
    wait_cv_.wait_for(lock, options_.election.renew_deadline,
                      [this] { return workers_running_ == 0; });
  }
  if (elector_.release(std::chrono::system_clock::now()))
    logging::event(level::info, "lease released", {{"identity", elector_.identity()}});
  leader_.store(false);
  metrics_.set_leader(false);
}

void manager::resync_loop() {
  auto next = std::chrono::steady_clock::now() + options_.resync_period;
  for (;;) {
    std::string why;
    {
      std::unique_lock lock(wait_mutex_);
      wait_cv_.wait_until(lock, next,
                          [this] { return stopping_.load() || !pass_request_.empty(); });
      if (stopping_.load()) return;
      why = pass_request_.empty() ? "resync" : pass_request_;
      pass_request_.clear();
    }
    if (why == "resync") next = std::chrono::steady_clock::now() + options_.resync_period;
    run_pass(why);
  }
}

void manager::on_namespace_list(std::vector<k8s::object_meta>&& items) {
  std::vector<std::pair<std::string, label_map>> entries;
  entries.reserve(items.size());
  for (auto& item : items) {
    entries.emplace_back(std::move(item.name), std::move(item.labels));
  }
  const bool first = !cache_.synced();
  const auto changed = cache_.replace(std::move(entries));
  if (first) logging::event(level::info, "namespace cache synced", {{"namespaces", items.size()}});
  bool wanted;
  {
    std::lock_guard lock(state_mutex_);
    wanted = full_sync_wanted_;
  }
  if (wanted) return full_sync("cache synced");
  // A relist after a broken watch: what changed meanwhile is queued like events would have been.
  if (first) return;
  const auto want = desired();
  for (const auto& name : changed) {
    const auto labels = cache_.labels_of(name);
    if (labels && relevant(*want, name, labels.get())) enqueue(name);
  }
}

void manager::on_namespace_event(const k8s::watch_event& e) {
  const std::string& name = e.object.name;
  if (e.event_type == k8s::watch_event::type::deleted) {
    cache_.erase(name);
    std::lock_guard lock(state_mutex_);
    errors_.erase(name);
    missed_.erase(name);
    erase_audit_locked(name);
    metrics_.set_audit_would_apply(audit_would_apply_);
    return;
  }
  if (!cache_.upsert(name, e.object.labels)) return;
  if (relevant(*desired(), name, &e.object.labels)) enqueue(name);
}

void manager::on_managed_list(const std::string& kind, std::vector<k8s::object_meta>&& items) {
  // A relist (first sync, or after a gap: 410, a restarted API server): only the namespaces whose
  // objects of this kind differ from what the store held are queued, as their events would have.
  std::map<std::string, managed_objects> listed;
  for (auto& item : items) {
    item.kind = kind;
    const std::string ns = item.namespace_name;
    std::string name = item.name;
    listed[ns].insert_or_assign({kind, std::move(name)}, compact(std::move(item)));
  }
  std::vector<std::string> changed;
  {
    std::lock_guard lock(managed_mutex_);
    // Old entries of this kind: all still there, at the same resourceVersion, and no new one?
    for (auto it = managed_.begin(); it != managed_.end();) {
      auto& objects = it->second;
      const auto fresh = listed.find(it->first);
      managed_objects none;
      managed_objects& now = fresh == listed.end() ? none : fresh->second;
      bool differs = false;
      std::size_t before = 0;
      for (auto o = objects.begin(); o != objects.end();) {
        if (o->first.first != kind) {
          ++o;
          continue;
        }
        ++before;
        const auto n = now.find(o->first);
        if (n == now.end() || n->second.resource_version != o->second.resource_version)
          differs = true;
        o = objects.erase(o);
      }
      if (before != now.size()) differs = true;
      auto& count = managed_count_[kind];
      count = count + now.size() - before;
      for (auto& [key, meta] : now) objects.insert_or_assign(key, std::move(meta));
      if (fresh != listed.end()) listed.erase(fresh);
      if (differs) changed.push_back(it->first);
      it = objects.empty() ? managed_.erase(it) : std::next(it);
    }
    // Namespaces that held nothing before.
    for (auto& [ns, objects] : listed) {
      managed_count_[kind] += objects.size();
      managed_.emplace(ns, std::move(objects));
      changed.push_back(ns);
    }
    managed_listed_.insert(kind);
  }
  {
    std::lock_guard lock(state_mutex_);
    prelisted_.clear();  // a relist: the watch had a gap, so no pass list can be trusted
    if (kind == k8s::cilium_network_policies.kind && crd_missing_) {
      crd_missing_ = false;
      metrics_.set_crd_missing(false);
      logging::event(level::info, "CiliumNetworkPolicy CRD is served now", {});
    }
  }
  publish_managed();
  for (const auto& ns : changed) enqueue(ns);
}

void manager::on_managed_event(const std::string& kind, const k8s::watch_event& e) {
  const std::string& ns = e.object.namespace_name;
  {
    // A pass's list of this namespace is stale now.
    std::lock_guard lock(state_mutex_);
    prelisted_.erase(ns);
  }
  {
    std::lock_guard lock(managed_mutex_);
    const std::pair<std::string, std::string> key{kind, e.object.name};
    if (e.event_type == k8s::watch_event::type::deleted) {
      auto it = managed_.find(ns);
      if (it != managed_.end() && it->second.erase(key) == 1) {
        --managed_count_[kind];
        if (it->second.empty()) managed_.erase(it);
      }
    } else {
      k8s::object_meta meta = e.object;
      meta.kind = kind;
      if (managed_[ns].insert_or_assign(key, compact(std::move(meta))).second)
        ++managed_count_[kind];
    }
  }
  publish_managed();
  // Edited or deleted by someone: the namespace is reconciled (an unchanged hash costs no write).
  // Our own writes coming back need nothing.
  k8s::watch_event typed = e;
  typed.object.kind = kind;
  if (!reconciler_.own_write(typed) && needs_reconcile(typed)) enqueue(ns);
}

void manager::enqueue(const std::string& ns) {
  if (leader_.load()) return queue_.add(ns);
  // Only existing namespaces: a follower must not collect the names of deleted ones for weeks.
  if (!cache_.labels_of(ns)) return;
  std::lock_guard lock(state_mutex_);
  missed_.insert(ns);
}

bool manager::store_synced() const {
  bool cilium_missing;
  {
    std::lock_guard lock(state_mutex_);
    cilium_missing = crd_missing_;
  }
  std::lock_guard lock(managed_mutex_);
  return managed_listed_.contains(std::string(k8s::network_policies.kind)) &&
         (cilium_missing ||
          managed_listed_.contains(std::string(k8s::cilium_network_policies.kind)));
}

std::optional<prelisted> manager::from_store(const std::string& ns) const {
  if (!store_synced()) return std::nullopt;
  bool cilium_missing;
  {
    std::lock_guard lock(state_mutex_);
    cilium_missing = crd_missing_;
  }
  std::lock_guard lock(managed_mutex_);
  prelisted p;
  p.cilium_missing = cilium_missing;
  if (const auto it = managed_.find(ns); it != managed_.end()) {
    p.objects.reserve(it->second.size());
    for (const auto& [key, meta] : it->second) p.objects.push_back(meta);
  }
  return p;
}

// An event about a managed object calls for a reconcile unless the object is exactly what we
// would apply: desired, same spec-hash, and not written by someone else since our last apply (an
// apply's own event can arrive before the apply call returns, so "unknown" counts as ours).
bool manager::needs_reconcile(const k8s::watch_event& e) {
  if (e.event_type == k8s::watch_event::type::deleted) return true;
  const auto& o = e.object;
  const auto set = desired()->policies(o.namespace_name);
  const auto it = std::find_if(set->begin(), set->end(),
                               [&](const auto& d) { return d.kind == o.kind && d.name == o.name; });
  if (it == set->end()) return true;  // a managed object no longer wanted: prune
  const auto hash = o.annotations.find(std::string(policy::spec_hash_annotation));
  if (hash == o.annotations.end() || hash->second != it->spec_hash) return true;
  const std::string written = reconciler_.written_version(o.namespace_name, o.kind, o.name);
  return !written.empty() && written != o.resource_version;
}

void manager::publish_managed() {
  std::lock_guard lock(managed_mutex_);
  metrics_.set_managed(managed_count_);
}

void manager::erase_audit_locked(const std::string& ns) {
  const auto it = audit_.find(ns);
  if (it == audit_.end()) return;
  audit_would_apply_ -= it->second.first;
  audit_.erase(it);
}

void manager::on_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing) {
  const std::string what = std::string(listing ? "list " : "watch ") + std::string(r.plural) +
                           (r.group.empty() ? "" : "." + std::string(r.group));
  if (e.kind == k8s::failure_kind::crd_missing) {
    std::lock_guard lock(state_mutex_);
    if (!crd_missing_) {
      crd_missing_ = true;
      metrics_.set_crd_missing(true);
      logging::event(level::warn,
                     "CiliumNetworkPolicy CRD not installed: Cilium-mode policies cannot be "
                     "applied until it is; admission keeps working; retrying with backoff",
                     {{"resource", what}});
    }
    return;
  }
  if (e.kind == k8s::failure_kind::forbidden || e.kind == k8s::failure_kind::unauthorized) {
    logging::event(
        level::err, "RBAC must grant this",
        {{"verb", listing ? "list" : "watch"}, {"resource", what}, {"error", e.message}});
    return;
  }
  logging::event(
      level::warn, "informer error, retrying",
      {{"resource", what}, {"error", e.message}, {"status", static_cast<int>(e.status)}});
}

std::string manager::metrics_text() const {
  std::string out;
  metrics_.render(out);
  if (events_) events_->render_metrics(out);
  return out;
}

std::string manager::status_json() const {
  const auto want = desired();
  const auto& summary = want->summary();
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("secured_namespaces");
  w.StartArray();
  for (const auto& ns : summary.secured_namespaces) str(ns);
  w.EndArray();
  w.Key("cilium_mode_enabled");
  w.Bool(summary.cilium_mode_enabled);
  w.Key("ml_policies_enabled");
  w.Bool(summary.ml_policies_enabled);
  std::size_t in_cluster = 0;
  {
    std::lock_guard lock(managed_mutex_);
    for (const auto& [kind, n] : managed_count_) in_cluster += n;
  }
  w.Key("policy_count");
  w.Uint64(in_cluster);
  w.Key("rendered_policy_count");
  w.Uint64(summary.policy_count);
  w.Key("reconciler");
  w.StartObject();
  w.Key("synced");
  w.Bool(cache_.synced());
  w.Key("leader");
  w.Bool(leader_.load());
  w.Key("identity");
  str(elector_.identity());
  std::lock_guard lock(state_mutex_);
  w.Key("last_full_sync");
  if (last_full_sync_.empty()) {
    w.Null();
  } else {
    str(last_full_sync_);
  }
  w.Key("cilium_crd_missing");
  w.Bool(crd_missing_);
  w.Key("errors");
  w.StartObject();
  for (const auto& [ns, message] : errors_) {
    str(ns);
    str(message);
  }
  w.EndObject();
  w.Key("audit");
  w.StartObject();
  for (const auto& [ns, report] : audit_) {
    str(ns);
    w.StartObject();
    w.Key("would_apply");
    w.Uint64(report.first);
    w.Key("would_prune");
    w.Uint64(report.second);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace mlnetpol::controller
