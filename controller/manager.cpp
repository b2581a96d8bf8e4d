#include "controller/manager.hpp"

#include <algorithm>
#include <optional>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/obs/logging.hpp"
#include "controller/api_failures.hpp"
#include "policy/engine.hpp"
#include "policy/namespaces.hpp"
#include "policy/policy_set.hpp"
#include "policy/render/clusterwide.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::controller {
namespace {

// The pods of a namespace -> pods map (the gated pods), counted under the caller's lock.
template <class by_namespace>
std::size_t pods_in(const by_namespace& map) {
  std::size_t n = 0;
  for (const auto& [ns, pods] : map) n += pods.size();
  return n;
}

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

k8s::api_error not_leader(std::string_view verb) {
  k8s::api_error e;
  e.kind = k8s::failure_kind::transport;
  e.verb = std::string(verb);
  e.message = "not written: this replica is no longer the leader";
  return e;
}

// Writes pass only while the replica is leader; reads and the election's own calls always do.
class leader_gated_cluster final : public cluster {
 public:
  leader_gated_cluster(cluster& api, std::function<bool()> leader)
      : api_(api), leader_(std::move(leader)) {}
  k8s::api_result<k8s::object_meta> apply(const k8s::resource& r, std::string_view ns,
                                          std::string_view name, std::string_view body) override {
    if (!leader_()) return not_leader("apply");
    return api_.apply(r, ns, name, body);
  }
  k8s::api_result<k8s::object_meta> replace(const k8s::resource& r, std::string_view ns,
                                            std::string_view name,
                                            std::string_view body) override {
    if (!leader_()) return not_leader("replace");
    return api_.replace(r, ns, name, body);
  }
  k8s::api_result<k8s::object_meta> merge_patch(const k8s::resource& r, std::string_view ns,
                                                std::string_view name,
                                                std::string_view patch) override {
    if (!leader_()) return not_leader("patch");
    return api_.merge_patch(r, ns, name, patch);
  }
  k8s::api_result<k8s::object_meta> json_patch(const k8s::resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view patch) override {
    if (!leader_()) return not_leader("patch");
    return api_.json_patch(r, ns, name, patch);
  }
  k8s::api_result<void> remove(const k8s::resource& r, std::string_view ns,
                               std::string_view name) override {
    if (!leader_()) return not_leader("delete");
    return api_.remove(r, ns, name);
  }
  k8s::api_result<k8s::list_page> list_all(const k8s::resource& r, std::string_view ns,
                                           std::string_view selector) override {
    return api_.list_all(r, ns, selector);
  }
  k8s::api_result<void> watch(const k8s::resource& r, std::string_view ns,
                              std::string_view selector, std::string_view rv,
                              std::chrono::seconds timeout,
                              const std::function<bool(const k8s::watch_event&)>& on) override {
    return api_.watch(r, ns, selector, rv, timeout, on);
  }
  k8s::api_result<std::vector<std::string>> served_resources(std::string_view group,
                                                             std::string_view version) override {
    return api_.served_resources(group, version);
  }
  k8s::api_result<k8s::lease_record> get_lease(std::string_view ns,
                                               std::string_view name) override {
    return api_.get_lease(ns, name);
  }
  k8s::api_result<k8s::lease_record> create_lease(const k8s::lease_record& l) override {
    return api_.create_lease(l);
  }
  k8s::api_result<k8s::lease_record> update_lease(const k8s::lease_record& l) override {
    return api_.update_lease(l);
  }
  void cancel() override { api_.cancel(); }

 private:
  cluster& api_;
  std::function<bool()> leader_;
};

}  // namespace

manager::manager(std::unique_ptr<cluster> api, policy::config initial, manager_options options)
    : api_(std::move(api)),
      leader_writes_(std::make_unique<leader_gated_cluster>(*api_, [this] { return leader(); })),
      options_(std::move(options)),
      queue_(options_.backoff),
      reconciler_(*leader_writes_, cache_),
      admission_policies_(*leader_writes_),
      clusterwide_(*api_, *leader_writes_, [this] { return leader(); }, options_.informers),
      election_(*api_, options_.election,
                leader_callbacks{[this] { on_started_leading(); },
                                 [this](std::string_view why) { on_stopped_leading(why); },
                                 [this] {
                                   // The workers may still be writing after a step-down: the
                                   // next leader starts after them.
                                   std::unique_lock lock(wait_mutex_);
                                   wait_cv_.wait_for(lock, options_.election.renew_deadline,
                                                     [this] { return workers_running_ == 0; });
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
  workers_running_ = std::max(1u, options_.workers);
  for (unsigned i = 0; i < workers_running_; ++i) workers_.emplace_back([this] { worker_loop(); });
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
  queue_.shutdown();
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
  queue_.shutdown();
  for (auto& t : workers_) t.join();
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
      held_ = held_change{digest, std::move(check), now_rfc3339()};
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
  if (!admit_proposed(lists, listed)) return false;
  const auto want = desired();
  if (!want) return true;  // held at start-up: nothing is in force, nothing is written
  admission_policies_.sync(want->config());
  clusterwide_.sync(want->config());
  if (reporter_) reporter_->sync(want, why == became_leader);
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
  {
    // Gated pods seen before this replica led (their events queued nothing it could act on) are
    // released by their namespace's reconcile, also where no set applies any more.
    std::lock_guard lock(gated_mutex_);
    for (const auto& [ns, pods] : gated_) keys.insert(ns);
  }
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
  return true;
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
  const auto want = desired();
  if (!leader() || !want) {
    queue_.forget(ns);
    return;
  }
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
  // Leadership ended during the reconcile: its writes were refused; the next leader redoes it.
  if (!leader()) {
    queue_.forget(ns);
    return;
  }
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
    case reconcile_status::unauthorized:
    case reconcile_status::crd_missing:
      queue_.add_rate_limited(ns, out.retry_after);
      settled = false;
      break;
  }

  if (out.status == reconcile_status::forbidden) {
    logging::event(level::err, "reconcile forbidden", {{"namespace", ns}, {"error", out.message}});
  } else if (out.status == reconcile_status::unauthorized) {
    logging::event(level::err, "reconcile unauthenticated",
                   {{"namespace", ns}, {"error", out.message}});
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

  for (const auto& repair : out.repairs) {
    std::string writers;
    for (const auto& w : repair.previous_writers) writers += (writers.empty() ? "" : ", ") + w;
    if (writers.empty()) writers = "none recorded";
    logging::event(level::warn,
                   repair.adopted ? "adopted an object mlnetpol did not create: replaced its spec"
                                  : "repaired a managed object someone else wrote: replaced it",
                   {{"namespace", ns},
                    {"kind", repair.kind},
                    {"name", repair.name},
                    {"previous_managers", writers}});
    if (events_) {
      events_->record(policy_repaired(
          {resource_of_kind(repair.kind).api_version(), repair.kind, ns, repair.name},
          repair.adopted, "previous managers: " + writers));
    }
  }

  const bool failed =
      out.status == reconcile_status::retry || out.status == reconcile_status::forbidden ||
      out.status == reconcile_status::unauthorized || out.status == reconcile_status::invalid ||
      out.status == reconcile_status::crd_missing;
  if (events_) {
    // Only what changed or failed: an unchanged resync writes no event (nor anything else).
    if (failed) {
      events_->record(policy_set_failed(ns, policy_set_failure_note(out)));
    } else if (out.applied + out.pruned > 0) {
      events_->record(policy_set_applied(ns, policy_set_note(out)));
    }
  }

  settle_gates(*want, ns, out);

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
    std::lock_guard lock(state_mutex_);
    errors_.erase(name);
    missed_.erase(name);
    erase_audit_locked(name);
    metrics_.set_audit_would_apply(audit_would_apply_);
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
  bool crd_installed = false;
  {
    std::lock_guard lock(state_mutex_);
    prelisted_.clear();  // a relist: the watch had a gap, so no pass list can be trusted
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
  if (leader()) return queue_.add(ns);
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
  std::lock_guard lock(gated_mutex_);
  return pods_in(gated_);
}

void manager::publish_gated() const {
  const auto now = std::chrono::steady_clock::now();
  std::size_t held = 0, over = 0;
  {
    std::lock_guard lock(gated_mutex_);
    held = pods_in(gated_);
    for (const auto& [ns, pods] : gated_) {
      for (const auto& [name, pod] : pods) over += now - pod.since > options_.gate_alert_after;
    }
  }
  metrics_.set_gated(held, over);
}

void manager::on_gated_list(std::vector<k8s::object_meta>&& items) {
  const auto now = std::chrono::steady_clock::now();
  std::set<std::string> namespaces;
  {
    std::lock_guard lock(gated_mutex_);
    std::map<std::string, std::map<std::string, gated_pod>> next;
    for (auto& item : items) {
      gated_pod pod{std::move(item.spec), now};
      // A relist keeps when each pod was first seen.
      if (const auto ns = gated_.find(item.namespace_name); ns != gated_.end()) {
        if (const auto old = ns->second.find(item.name); old != ns->second.end())
          pod.since = old->second.since;
      }
      namespaces.insert(item.namespace_name);
      next[item.namespace_name].insert_or_assign(std::move(item.name), std::move(pod));
    }
    gated_.swap(next);
  }
  publish_gated();
  for (const auto& ns : namespaces) enqueue(ns);
}

void manager::on_gated_event(const k8s::watch_event& e) {
  const std::string& ns = e.object.namespace_name;
  {
    std::lock_guard lock(gated_mutex_);
    if (e.event_type == k8s::watch_event::type::deleted ||
        !e.object.labels.contains(std::string(policy::policy_set_gated_label))) {
      // Deleted, or no longer labelled (a label-selected watch reports that as DELETED).
      if (const auto it = gated_.find(ns); it != gated_.end()) {
        it->second.erase(e.object.name);
        if (it->second.empty()) gated_.erase(it);
      }
    } else {
      auto& pods = gated_[ns];
      const auto old = pods.find(e.object.name);
      const auto since = old == pods.end() ? std::chrono::steady_clock::now() : old->second.since;
      pods.insert_or_assign(e.object.name, gated_pod{e.object.spec, since});
    }
  }
  publish_gated();
  // The namespace's reconcile releases the pod once its set is in place (at once when it is).
  if (e.event_type != k8s::watch_event::type::deleted &&
      e.object.labels.contains(std::string(policy::policy_set_gated_label))) {
    enqueue(ns);
  }
}

void manager::settle_gates(const desired_state& want, const std::string& ns,
                           const reconcile_outcome& out) {
  std::vector<std::pair<std::string, gated_pod>> pods;
  {
    std::lock_guard lock(gated_mutex_);
    const auto it = gated_.find(ns);
    if (it == gated_.end()) return;
    pods.assign(it->second.begin(), it->second.end());
  }
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
    {
      std::lock_guard lock(gated_mutex_);
      if (const auto it = gated_.find(ns); it != gated_.end()) {
        it->second.erase(name);
        if (it->second.empty()) gated_.erase(it);
      }
    }
    metrics_.count_gate_release(std::chrono::duration<double>(now - pod.since).count());
  }
  publish_gated();
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
  if (e.kind == k8s::failure_kind::unauthorized) {
    logging::event(level::err, std::string(authentication_failed),
                   {{"verb", listing ? "list" : "watch"},
                    {"resource", what},
                    {"status", static_cast<int>(e.status)},
                    {"error", e.message}});
    return;
  }
  if (e.kind == k8s::failure_kind::forbidden) {
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
  publish_gated();  // "held longer than" changes with time alone
  metrics_.set_leader(leader());  // the truth at scrape time, not at the last election step
  metrics_.render(out);
  if (events_) events_->render_metrics(out);
  if (reporter_) reporter_->render_metrics(out);
  return out;
}

std::string manager::status_json() const {
  const auto want = latest();
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
  {
    const admission_policy_status vap = admission_policies_.status();
    w.Key("admission_policies");
    w.StartObject();
    w.Key("state");
    str(vap.state);
    w.Key("api_version");
    str(vap.api_version);
    w.Key("message");
    str(vap.message);
    w.Key("objects");
    w.Uint64(vap.objects);
    w.EndObject();
  }
  {
    const clusterwide_policy_status ccnp = clusterwide_.status();
    w.Key("clusterwide_policy");
    w.StartObject();
    w.Key("name");
    str(policy::clusterwide_policy_name);
    w.Key("state");
    str(ccnp.state);
    w.Key("message");
    str(ccnp.message);
    w.EndObject();
  }
  if (reporter_) reporter_->write_status(w);
  w.Key("reconciler");
  w.StartObject();
  w.Key("synced");
  w.Bool(cache_.synced());
  w.Key("leader");
  w.Bool(leader());
  w.Key("identity");
  str(election_.identity());
  std::lock_guard lock(state_mutex_);
  w.Key("last_full_sync");
  if (last_full_sync_.empty()) {
    w.Null();
  } else {
    str(last_full_sync_);
  }
  w.Key("cilium_crd_missing");
  w.Bool(crd_missing_);
  {
    // Pods held by the scheduling gate, by namespace (the first 100); why: `errors`.
    std::lock_guard gated_lock(gated_mutex_);
    w.Key("gated_pods");
    w.Uint64(pods_in(gated_));
    w.Key("gated");
    w.StartObject();
    std::size_t shown = 0;
    for (const auto& [ns, pods] : gated_) {
      if (shown++ == 100) break;
      str(ns);
      w.Uint64(pods.size());
    }
    w.EndObject();
  }
  w.Key("config_change_held");
  if (!held_) {
    w.Null();
  } else {
    w.StartObject();
    w.Key("digest");
    str(held_->digest);
    w.Key("since");
    str(held_->since);
    w.Key("namespaces_losing_policies");
    w.Uint64(held_->check.removed.size());
    w.Key("namespaces_holding_policies");
    w.Uint64(held_->check.holding);
    w.Key("allowed");
    w.Uint64(held_->check.allowed);
    w.Key("namespaces");  // the first 100: /status stays small on a large cluster
    w.StartArray();
    for (std::size_t i = 0; i < held_->check.removed.size() && i < 100; ++i)
      str(held_->check.removed[i]);
    w.EndArray();
    w.Key("confirm");
    str(confirm_command(options_.election.lease_namespace, held_->digest));
    w.EndObject();
  }
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
