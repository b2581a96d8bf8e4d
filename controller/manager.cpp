#include "controller/manager.hpp"

#include <algorithm>
#include <optional>

#include <rapidjson/document.h>

#include "common/obs/logging.hpp"
#include "common/time_format.hpp"
#include "controller/api_failures.hpp"
#include "controller/leader_gated_cluster.hpp"
#include "policy/engine.hpp"
#include "policy/namespaces.hpp"
#include "policy/policy_set.hpp"
#include "policy/render/clusterwide.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;

// The pass after gaining the lease reads the watches' store (kept on every replica) rather than
// listing every managed object again right after the relists of a restarted API server.
constexpr const char* became_leader = "became leader";

}  // namespace

manager::manager(std::unique_ptr<cluster> api, policy::config initial, manager_options options)
    : api_(std::move(api)),
      leader_writes_(leader_gated(*api_, [this] { return leader(); })),
      options_(std::move(options)),
      reconciler_(*leader_writes_, cache_),
      loop_(
          reconciler_, metrics_, options_.backoff,
          namespace_controller_hooks{
              [this] { return desired(); }, [this] { return leader(); },
              [this](const std::string& ns) { return listing(ns); },
              [this](const desired_state& want, const std::string& ns, const reconcile_outcome& out,
                     const outcome_handling& h) { reconciled(want, ns, out, h); }}),
      admission_policies_(*leader_writes_),
      clusterwide_(*api_, *leader_writes_, [this] { return leader(); }, options_.informers),
      election_(*api_, options_.election,
                leader_callbacks{[this] { on_started_leading(); },
                                 [this](std::string_view why) { on_stopped_leading(why); },
                                 [this] {
                                   // The workers may still be writing after a step-down: the
                                   // next leader starts after them.
                                   loop_.wait_for_workers(options_.election.renew_deadline);
                                 }}),
      proposed_(std::make_shared<const desired_state>(std::move(initial))) {}

bool manager::leader() const {
  return election_.leader();
}

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

std::shared_ptr<const desired_state> manager::latest() const {
  std::lock_guard lock(config_mutex_);
  return proposed_ ? proposed_ : desired_;
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
  // Only pods carrying the gate's label: never every pod of the cluster.
  gated_informer_ = std::make_unique<informer>(
      *api_, k8s::pods, std::string(policy::policy_set_gated_label) + "=true",
      informer_handlers{
          [this](std::vector<k8s::object_meta>&& items) { on_gated_list(std::move(items)); },
          [this](const k8s::watch_event& e) { on_gated_event(e); },
          [this](const k8s::api_error& e, bool listing) {
            on_informer_error(k8s::pods, e, listing);
          }},
      options_.informers);
  if (options_.policy_reports) {
    reporter_ = std::make_unique<policy_reporter>(*api_, *leader_writes_, cache_,
                                                  [this] { return leader(); },
                                                  policy_reporter_options{options_.informers});
    reporter_->start();
  }
  if (events_) events_->start();
  namespace_informer_->start();
  policy_informer_->start();
  cilium_informer_->start();
  gated_informer_->start();
  clusterwide_.start();
  loop_.start(options_.workers, events_.get());
  election_.start();
  resync_thread_ = std::thread([this] { resync_loop(); });
  logging::event(
      level::info, "reconciler started",
      {{"identity", election_.identity()},
       {"lease", options_.election.lease_namespace + "/" + options_.election.lease_name},
       {"resync_seconds",
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::seconds>(options_.resync_period).count())}});
}

void manager::step_down() {
  if (!started_ || stopped_) return;
  loop_.shutdown();
  {
    std::lock_guard lock(wait_mutex_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  election_.request_stop();
}

void manager::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Workers first (the reconcile in hand finishes), then the lease goes, then calls in flight end.
  loop_.shutdown();
  loop_.join();
  // After the last reconcile (and the server's drain): what is queued is written, within a grace.
  if (events_) events_->stop();
  {
    std::lock_guard lock(wait_mutex_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  election_.stop();
  if (resync_thread_.joinable()) resync_thread_.join();
  const auto informers = {namespace_informer_.get(), policy_informer_.get(),
                          cilium_informer_.get(), gated_informer_.get()};
  for (auto* inf : informers) inf->request_stop();
  clusterwide_.request_stop();
  if (reporter_) reporter_->request_stop();
  api_->cancel();
  for (auto* inf : informers) inf->join();
  clusterwide_.join();
  if (reporter_) reporter_->join();
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
    proposed_ = std::move(next);
  }
  full_sync("configuration reload");
}

bool manager::admit_proposed(const std::map<std::string, prelisted>& lists, bool listed) {
  std::shared_ptr<const desired_state> proposed;
  {
    std::lock_guard lock(config_mutex_);
    proposed = proposed_;
  }
  if (!proposed) return true;
  if (!listed) {
    logging::event(level::warn,
                   "configuration change not checked against the cluster (listing its policies "
                   "failed); the configuration in force stays, retrying",
                   {});
    return false;
  }
  // The existing namespaces holding managed policies now: the ones the change could unsecure.
  std::vector<std::string> holding;
  for (const auto& [ns, l] : lists) {
    if (!l.objects.empty() && cache_.labels_of(ns)) holding.push_back(ns);
  }
  removal_check check = check_removal(proposed->config(), holding, options_.guard);
  const std::string digest = config_digest(proposed->config());
  std::lock_guard lock(state_mutex_);
  const bool confirmed = !confirmed_digest_.empty() && confirmed_digest_ == digest;
  if (check.held() && !confirmed) {
    if (!held_ || held_->digest != digest) {
      metrics_.count_config_hold();
      std::string sample;
      for (std::size_t i = 0; i < check.removed.size() && i < 10; ++i)
        sample += (i == 0 ? "" : ",") + check.removed[i];
      logging::event(level::err,
                     "configuration change held: it would remove the policies of more namespaces "
                     "than --prune-guard-percent/--prune-guard-namespaces allow; nothing is "
                     "pruned until it is confirmed",
                     {{"digest", digest},
                      {"namespaces", static_cast<std::uint64_t>(check.removed.size())},
                      {"holding", static_cast<std::uint64_t>(check.holding)},
                      {"allowed", static_cast<std::uint64_t>(check.allowed)},
                      {"removed", sample},
                      {"confirm", confirm_command(options_.election.lease_namespace, digest)}});
      held_ = held_config_change{digest, std::move(check),
                                 format_rfc3339(std::chrono::system_clock::now())};
    }
    metrics_.set_config_held(true);
    return true;
  }
  {
    std::lock_guard config_lock(config_mutex_);
    desired_ = proposed;
    if (proposed_ == proposed) proposed_.reset();
  }
  if (held_) {
    const char* what = held_->digest != digest ? "held configuration change replaced by another"
                       : confirmed             ? "held configuration change confirmed; applying it"
                                   : "held configuration change within the limits now; applying it";
    logging::event(level::warn, what, {{"digest", held_->digest}});
    held_.reset();
    metrics_.set_config_held(false);
  }
  return true;
}

bool manager::relevant(const desired_state& desired, const std::string& ns,
                       const label_map* labels) const {
  const auto roles = desired.roles(ns);
  if (roles.secured || roles.ml()) return true;
  if (labels != nullptr && has_owned_label(*labels)) return true;
  return managed_.holds(ns);
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
bool manager::run_pass(const std::string& why) {
  if (!leader()) return true;
  if (!cache_.synced()) {
    std::lock_guard lock(state_mutex_);
    full_sync_wanted_ = true;
    return true;
  }
  // The managed objects of every namespace, in one list per kind. A failed list only means the
  // reconciles list their namespace themselves.
  std::map<std::string, prelisted> lists;
  bool proposed_pending;
  {
    std::lock_guard lock(config_mutex_);
    proposed_pending = proposed_ != nullptr;
  }
  // A proposed configuration is checked against fresh lists (the guard counts what they hold).
  const bool from_watches = why == became_leader && store_synced() && !proposed_pending;
  bool listed = !from_watches;
  bool cilium_missing = false;
  const std::string selector = managed_selector();
  if (!from_watches) {
    std::lock_guard lock(state_mutex_);
    pass_listing_ = true;
    relisted_while_listing_ = false;
    changed_while_listing_.clear();
  }
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
  const auto stop_listing = [this] {
    std::lock_guard lock(state_mutex_);
    end_listing_locked();
  };
  if (!admit_proposed(lists, listed)) {
    stop_listing();
    return false;
  }
  const auto want = desired();
  if (!want) {
    stop_listing();
    return true;  // held at start-up: nothing is in force, nothing is written
  }
  admission_policies_.sync(want->config());
  clusterwide_.sync(want->config());
  if (reporter_) reporter_->sync(want, why == became_leader);
  const auto snap = cache_.snapshot();
  std::set<std::string> keys;
  for (const auto& [name, labels] : *snap) {
    if (relevant(*want, name, labels.get())) keys.insert(name);
  }
  managed_.namespaces(keys);
  for (const auto& [ns, l] : lists) keys.insert(ns);
  // Gated pods seen before this replica led (their events queued nothing it could act on) are
  // released by their namespace's reconcile, also where no set applies any more.
  gated_.namespaces(keys);
  std::set<std::string> missed;
  {
    std::lock_guard lock(state_mutex_);
    missed.swap(missed_);
    full_sync_wanted_ = false;
    full_pending_ = keys;
    if (keys.empty()) last_full_sync_ = format_rfc3339(std::chrono::system_clock::now());
    // An event since the lists were taken found nothing to erase yet: the lists of its namespace
    // are older than the watches' store, which its reconcile reads instead.
    if (listed && !relisted_while_listing_) {
      for (const auto& k : keys) {
        if (changed_while_listing_.contains(k)) continue;
        prelisted& p = prelisted_[k];
        auto it = lists.find(k);
        p.objects =
            it == lists.end() ? std::vector<k8s::object_meta>{} : std::move(it->second.objects);
        p.cilium_missing = cilium_missing;
      }
    }
    end_listing_locked();
  }
  logging::event(level::info, "full sync", {{"reason", why}, {"namespaces", keys.size()}});
  for (const auto& k : missed) loop_.add(k);  // first: the queue is FIFO and deduplicates
  for (const auto& k : keys) loop_.add(k);
  full_syncs_.fetch_add(1);
  return true;
}

void manager::end_listing_locked() {
  pass_listing_ = false;
  changed_while_listing_.clear();
}

namespace_listing manager::listing(const std::string& ns) {
  namespace_listing listed;
  {
    std::lock_guard lock(state_mutex_);
    if (auto it = prelisted_.find(ns); it != prelisted_.end()) {
      listed.objects = std::move(it->second);
      prelisted_.erase(it);
    }
    listed.cilium_known_missing = crd_missing_;
  }
  // Not from a pass: what the watches hold, so a relist or an event costs no list calls.
  if (!listed.objects) listed.objects = from_store(ns);
  return listed;
}

void manager::reconciled(const desired_state& want, const std::string& ns,
                         const reconcile_outcome& out, const outcome_handling& handling) {
  settle_gates(want, ns, out);
  std::lock_guard lock(state_mutex_);
  if (!handling.retried && full_pending_.erase(ns) == 1 && full_pending_.empty())
    last_full_sync_ = format_rfc3339(std::chrono::system_clock::now());
}

void manager::on_started_leading() {
  metrics_.set_leader(true);
  logging::event(level::info, "became leader", {{"identity", election_.identity()}});
  full_sync(became_leader);
}

void manager::on_stopped_leading(std::string_view why) {
  metrics_.set_leader(false);
  logging::event(level::warn, "lost leadership",
                 {{"identity", election_.identity()}, {"why", std::string(why)}});
}

void manager::resync_loop() {
  using steady = std::chrono::steady_clock;
  auto next = steady::now() + options_.resync_period;
  std::optional<std::pair<std::string, steady::time_point>> retry;  // a pass that could not finish
  for (;;) {
    std::string why;
    {
      std::unique_lock lock(wait_mutex_);
      wait_cv_.wait_until(lock, retry ? std::min(next, retry->second) : next,
                          [this] { return stopping_.load() || !pass_request_.empty(); });
      if (stopping_.load()) return;
      if (!pass_request_.empty()) {
        why = pass_request_;
      } else if (retry && steady::now() >= retry->second) {
        why = retry->first;
      } else {
        why = "resync";
      }
      pass_request_.clear();
    }
    retry.reset();
    if (why == "resync") next = steady::now() + options_.resync_period;
    if (!run_pass(why)) retry.emplace(why, steady::now() + options_.election.retry_period);
  }
}

void manager::note_confirmation(const k8s::object_meta& ns) {
  if (ns.name != options_.election.lease_namespace) return;
  const auto it = ns.annotations.find(std::string(confirm_config_annotation));
  const std::string value = it == ns.annotations.end() ? std::string() : it->second;
  bool wake;
  {
    std::lock_guard lock(state_mutex_);
    if (value == confirmed_digest_) return;
    confirmed_digest_ = value;
    wake = held_ && held_->digest == value;
  }
  if (wake) full_sync("configuration change confirmed");
}

void manager::on_namespace_list(std::vector<k8s::object_meta>&& items) {
  std::vector<std::pair<std::string, label_map>> entries;
  std::vector<std::pair<std::string, std::string>> sets;
  entries.reserve(items.size());
  const std::string set_key(policy::policy_set_annotation);
  for (auto& item : items) {
    note_confirmation(item);
    if (const auto it = item.annotations.find(set_key); it != item.annotations.end())
      sets.emplace_back(item.name, it->second);
    entries.emplace_back(std::move(item.name), std::move(item.labels));
  }
  const bool first = !cache_.synced();
  const auto changed = cache_.replace(std::move(entries), std::move(sets));
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
  if (!want) return;
  for (const auto& name : changed) {
    const auto labels = cache_.labels_of(name);
    if (labels && relevant(*want, name, labels.get())) enqueue(name);
  }
}

void manager::on_namespace_event(const k8s::watch_event& e) {
  const std::string& name = e.object.name;
  if (e.event_type == k8s::watch_event::type::deleted) {
    cache_.erase(name);
    if (reporter_) reporter_->namespace_changed(name);
    loop_.forget(name);
    std::lock_guard lock(state_mutex_);
    missed_.erase(name);
    return;
  }
  note_confirmation(e.object);
  const auto set = e.object.annotations.find(std::string(policy::policy_set_annotation));
  const bool set_changed = cache_.set_policy_set(
      name, set == e.object.annotations.end() ? std::string() : set->second);
  const bool labels_changed = cache_.upsert(name, e.object.labels);
  if (!labels_changed && !set_changed) return;
  if (labels_changed && reporter_) reporter_->namespace_changed(name);
  const auto want = desired();
  if (!want) return;
  if (relevant(*want, name, &e.object.labels)) enqueue(name);
}

void manager::on_managed_list(const std::string& kind, std::vector<k8s::object_meta>&& items) {
  // A relist (first sync, or after a gap: 410, a restarted API server): only the namespaces whose
  // objects of this kind differ from what the index held are queued, as their events would have.
  const std::vector<std::string> changed = managed_.replace(kind, std::move(items));
  bool crd_installed = false;
  {
    std::lock_guard lock(state_mutex_);
    prelisted_.clear();  // a relist: the watch had a gap, so no pass list can be trusted
    if (pass_listing_) relisted_while_listing_ = true;
    if (kind == k8s::cilium_network_policies.kind && crd_missing_) {
      crd_missing_ = false;
      crd_installed = true;
      metrics_.set_crd_missing(false);
      logging::event(level::info, "CiliumNetworkPolicy CRD is served now", {});
    }
  }
  publish_managed();
  for (const auto& ns : changed) enqueue(ns);
  // The sets that waited for it (and the pods their gates hold) are stored now, not at each
  // namespace's next backed-off retry.
  if (crd_installed) full_sync("CiliumNetworkPolicy CRD installed");
}

void manager::on_managed_event(const std::string& kind, const k8s::watch_event& e) {
  const std::string& ns = e.object.namespace_name;
  {
    // A pass's list of this namespace is stale now, also one still being taken.
    std::lock_guard lock(state_mutex_);
    prelisted_.erase(ns);
    if (pass_listing_) changed_while_listing_.insert(ns);
  }
  managed_.apply(kind, e);
  publish_managed();
  // Edited or deleted by someone: the namespace is reconciled (an unchanged hash costs no write).
  // Our own writes coming back need nothing.
  k8s::watch_event typed = e;
  typed.object.kind = kind;
  if (!reconciler_.own_write(typed) && needs_reconcile(typed)) enqueue(ns);
}

void manager::enqueue(const std::string& ns) {
  if (leader()) return loop_.add(ns);
  // Only existing namespaces: a follower must not collect the names of deleted ones for weeks.
  if (!cache_.labels_of(ns)) return;
  std::lock_guard lock(state_mutex_);
  missed_.insert(ns);
}

bool manager::store_synced() const {
  std::lock_guard lock(state_mutex_);
  return managed_.synced(crd_missing_);
}

std::optional<prelisted> manager::from_store(const std::string& ns) const {
  bool cilium_missing;
  {
    std::lock_guard lock(state_mutex_);
    cilium_missing = crd_missing_;
  }
  return managed_.objects_of(ns, cilium_missing);
}

// An event about a managed object calls for a reconcile unless the object is exactly what we
// would write: desired, the same spec, no other manager, and not written by someone else since our
// last write (our own write's event can arrive before the call returns, so "unknown" counts as
// ours).
bool manager::needs_reconcile(const k8s::watch_event& e) {
  if (e.event_type == k8s::watch_event::type::deleted) return true;
  const auto& o = e.object;
  const auto want = desired();
  if (!want) return false;  // nothing in force (a change held at start-up): nothing to repair to
  const auto set = want->policies(o.namespace_name);
  const auto it = std::find_if(set->begin(), set->end(),
                               [&](const auto& d) { return d.kind == o.kind && d.name == o.name; });
  if (it == set->end()) return true;  // a managed object no longer wanted: prune
  return !is_rendered(
      *it, observe(o, o.kind, reconciler_.written_version(o.namespace_name, o.kind, o.name)));
}

policy::policy_set_state manager::policy_set_of(std::string_view namespace_name) const {
  policy::policy_set_state state;
  state.recorded = cache_.recorded_policy_set(namespace_name);
  if (const auto want = latest()) state.expected = want->policy_set_hash(std::string(namespace_name));
  return state;
}

std::size_t manager::gated_pods() const {
  return gated_.size();
}

void manager::publish_gated() const {
  const auto now = std::chrono::steady_clock::now();
  metrics_.set_gated(gated_.size(), gated_.held_longer_than(options_.gate_alert_after, now));
}

void manager::on_gated_list(std::vector<k8s::object_meta>&& items) {
  const auto namespaces = gated_.replace(std::move(items), std::chrono::steady_clock::now());
  publish_gated();
  for (const auto& ns : namespaces) enqueue(ns);
}

void manager::on_gated_event(const k8s::watch_event& e) {
  const bool gated = gated_.apply(e, std::chrono::steady_clock::now());
  publish_gated();
  // The namespace's reconcile releases the pod once its set is in place (at once when it is).
  if (gated) enqueue(e.object.namespace_name);
}

void manager::settle_gates(const desired_state& want, const std::string& ns,
                           const reconcile_outcome& out) {
  const auto pods = gated_.pods_of(ns);
  if (pods.empty()) return;
  const auto labels = cache_.labels_of(ns);
  if (!labels) return;  // the namespace is gone, and its pods with it
  // Released when the set is in place, and at once where no set applies: the namespace left the
  // lists, or its mode is audit (nothing is applied there, nothing would ever release the pod).
  const bool applies = want.roles(ns).secured &&
                       policy::effective_mode(want.config(), labels.get(), ns, nullptr) !=
                           policy::enforcement_mode::audit;
  const bool release = !applies || cache_.recorded_policy_set(ns) == want.policy_set_hash(ns);
  if (!release) {
    // Held because the set cannot be stored: say why on each pod (kubectl describe pod),
    // aggregated like every other Event. (An ok reconcile that left it unrecorded is retried.)
    if (!events_ || out.status == reconcile_status::ok) return;
    const std::string note = "held by the scheduling gate " + std::string(policy::policy_set_gate) +
                             ": the namespace's network policies could not be stored (" +
                             std::string(to_string(out.status)) + ": " + out.message +
                             "); it starts once they are";
    for (const auto& [name, pod] : pods) events_->record(pod_gated(ns, name, note));
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [name, pod] : pods) {
    rapidjson::Document spec;
    spec.Parse(pod.spec.empty() ? "{}" : pod.spec.c_str());
    const std::string patch =
        policy::gate_release_patch(spec.HasParseError() ? nullptr : &spec);
    auto patched = leader_writes_->json_patch(k8s::pods, ns, name, patch);
    if (!patched) {
      // A changed gate list (or a deleted pod): its watch event brings it back with the new spec.
      logging::event(level::warn, "scheduling gate not released",
                     {{"namespace", ns},
                      {"pod", name},
                      {"error", patched.error().message},
                      {"status", static_cast<int>(patched.error().status)}});
      continue;
    }
    gated_.erase(ns, name);
    metrics_.count_gate_release(std::chrono::duration<double>(now - pod.since).count());
  }
  publish_gated();
}

void manager::publish_managed() {
  metrics_.set_managed(managed_.counts());
}

void manager::on_informer_error(const k8s::resource& r, const k8s::api_error& e, bool listing) {
  if (e.kind != k8s::failure_kind::crd_missing) return log_informer_error(r, e, listing);
  std::lock_guard lock(state_mutex_);
  if (!crd_missing_) {
    crd_missing_ = true;
    metrics_.set_crd_missing(true);
    logging::event(level::warn,
                   "CiliumNetworkPolicy CRD not installed: Cilium-mode policies cannot be "
                   "applied until it is; admission keeps working; retrying with backoff",
                   {{"resource", std::string(listing ? "list " : "watch ") + r.rbac_name()}});
  }
}

std::string manager::metrics_text() const {
  std::string out;
  publish_gated();  // "held longer than" changes with time alone
  metrics_.set_leader(leader());  // the truth at scrape time, not at the last election step
  metrics_.render(out);
  if (events_) events_->render_metrics(out);
  if (reporter_) reporter_->render_metrics(out);
  return out;
}

std::string manager::status_json() const {
  controller_status s;
  s.summary = latest()->summary();
  s.managed_policies = managed_.total();
  s.admission_policies = admission_policies_.status();
  s.clusterwide = clusterwide_.status();
  s.reports = reporter_.get();
  s.synced = cache_.synced();
  s.leader = leader();
  s.identity = election_.identity();
  s.confirm_namespace = options_.election.lease_namespace;
  s.errors = loop_.results().errors();
  s.audit = loop_.results().audit();
  s.gated_pods = gated_.size();
  s.gated = gated_.by_namespace(100);  // what /status shows
  std::lock_guard lock(state_mutex_);
  s.last_full_sync = last_full_sync_;
  s.cilium_crd_missing = crd_missing_;
  s.held = held_;
  return controller::status_json(s);
}

}  // namespace mlnetpol::controller
