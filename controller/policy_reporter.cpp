#include "controller/policy_reporter.hpp"

#include <array>

#include <rapidjson/document.h>

#include "common/obs/logging.hpp"
#include "controller/api_failures.hpp"
#include "controller/reconciler.hpp"
#include "policy/guardrails.hpp"
#include "policy/labels.hpp"
#include "policy/namespaces.hpp"

namespace mlnetpol::controller {
namespace {

namespace logging = obs::logging;
using level = spdlog::level::level_enum;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

// The kinds judged, in the order of the metric's series.
constexpr std::array<const k8s::resource*, 3> judged_kinds{&k8s::pods, &k8s::network_policies,
                                                           &k8s::cilium_network_policies};

void put(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void put_map(json_writer& w, std::string_view key, const std::map<std::string, std::string>& m) {
  put(w, key);
  w.StartObject();
  for (const auto& [k, v] : m) {
    put(w, k);
    put(w, v);
  }
  w.EndObject();
}

bool same(const policy::report_entry& a, const policy::report_entry& b) {
  if (a.uid != b.uid || a.severity != b.severity || a.violations.size() != b.violations.size())
    return false;
  for (std::size_t i = 0; i < a.violations.size(); ++i) {
    if (a.violations[i].rule != b.violations[i].rule ||
        a.violations[i].message != b.violations[i].message)
      return false;
  }
  return true;
}

bool is_ours(const k8s::object_meta& report) {
  return report.name == policy::policy_report_name;  // the watch selects our managed-by label
}

}  // namespace

std::optional<policy::report_entry> judge_object(const k8s::resource& r,
                                                 const k8s::object_meta& object,
                                                 const policy::config& cfg) {
  // The object again as the judges read it: metadata and the spec (a Cilium policy's specs too).
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  put(w, "metadata");
  w.StartObject();
  put(w, "name");
  put(w, object.name);
  put(w, "namespace");
  put(w, object.namespace_name);
  put(w, "uid");
  put(w, object.uid);
  put_map(w, "labels", object.labels);
  put_map(w, "annotations", object.annotations);
  w.EndObject();
  for (const auto& [key, raw] :
       {std::pair{"spec", &object.spec}, std::pair{"specs", &object.specs}}) {
    if (raw->empty()) continue;
    put(w, key);
    w.RawValue(raw->data(), raw->size(), rapidjson::kObjectType);
  }
  w.EndObject();
  rapidjson::Document doc;
  doc.Parse(buf.GetString(), buf.GetSize());  // compact JSON the API server sent, as deep as it was
  if (doc.HasParseError()) return std::nullopt;
  policy::namespace_findings f;
  f.namespace_name = object.namespace_name;
  if (r.kind == k8s::pods.kind) {
    policy::judge_pod(doc, cfg, f);
  } else {
    policy::judge_tenant_policy(r.kind == k8s::network_policies.kind
                                    ? policy::tenant_policy_kind::network_policy
                                    : policy::tenant_policy_kind::cilium_network_policy,
                                doc, f);
  }
  if (f.entries.empty()) return std::nullopt;
  return std::move(f.entries.front());
}

policy_reporter::policy_reporter(cluster& reads, cluster& writes, const namespace_cache& namespaces,
                                 std::function<bool()> leader, policy_reporter_options options)
    : reads_(reads),
      writes_(writes),
      namespaces_(namespaces),
      leader_(std::move(leader)),
      options_(options) {
  for (const std::string_view result : {"applied", "deleted", "failed"})
    writes_total_.add({result}, 0);
}

policy_reporter::~policy_reporter() {
  request_stop();
  join();
}

void policy_reporter::start() {
  if (started_) return;
  started_ = true;
  auto watch = [&](const k8s::resource& r) {
    return std::make_unique<informer>(
        reads_, r, "",
        informer_handlers{
            [this, &r](std::vector<k8s::object_meta>&& items) { on_list(r, std::move(items)); },
            [this, &r](const k8s::watch_event& e) { on_event(r, e); },
            [this, &r](const k8s::api_error& e, bool listing) { on_error(r, e, listing); }},
        options_.informers);
  };
  pods_ = watch(k8s::pods);
  policies_ = watch(k8s::network_policies);
  cilium_ = watch(k8s::cilium_network_policies);
  report_watch_ = std::make_unique<informer>(
      reads_, k8s::policy_reports, managed_selector(),
      informer_handlers{
          [this](std::vector<k8s::object_meta>&& items) { on_report_list(std::move(items)); },
          [this](const k8s::watch_event& e) { on_report_event(e); },
          [this](const k8s::api_error& e, bool listing) {
            on_error(k8s::policy_reports, e, listing);
          }},
      options_.informers);
  for (auto* inf : {pods_.get(), policies_.get(), cilium_.get(), report_watch_.get()}) inf->start();
  worker_ = std::thread([this] { worker_loop(); });
}

void policy_reporter::request_stop() {
  queue_.shutdown();
  for (auto* inf : {pods_.get(), policies_.get(), cilium_.get(), report_watch_.get()})
    if (inf) inf->request_stop();
}

void policy_reporter::join() {
  if (worker_.joinable()) worker_.join();
  for (auto* inf : {pods_.get(), policies_.get(), cilium_.get(), report_watch_.get()})
    if (inf) inf->join();
}

std::vector<std::string> policy_reporter::secured_existing(const desired_state& want) const {
  std::vector<std::string> out;
  for (auto& ns : policy::secured_namespaces(want.config()))
    if (namespaces_.labels_of(ns)) out.push_back(std::move(ns));
  return out;
}

void policy_reporter::sync(std::shared_ptr<const desired_state> want, bool leadership_gained) {
  if (!want) return;
  const std::vector<std::string> secured = secured_existing(*want);
  std::set<std::string> keys(secured.begin(), secured.end());
  {
    std::lock_guard lock(mutex_);
    if (want != judged_) {
      // Verdicts depend on the configuration: everything is judged again from cluster-wide lists
      // (the relist key "", which no namespace has, first: one worker takes keys in order).
      judged_ = want;
      for (const auto& [ns, v] : verdicts_) keys.insert(ns);
      stale_.clear();
      queue_.add(std::string());
    }
    if (leadership_gained) written_.clear();
    keys.insert(reports_.begin(), reports_.end());  // those of namespaces no longer secured go
  }
  for (const auto& ns : keys) queue_.add(ns);
}

void policy_reporter::namespace_changed(const std::string& ns) {
  {
    std::lock_guard lock(mutex_);
    if (!judged_) return;
    written_.erase(ns);  // written again, even unchanged: it is what "back to enforce" shows
  }
  later(ns);
}

void policy_reporter::worker_loop() {
  while (auto key = queue_.get()) {
    process(*key);
    queue_.done(*key);
  }
}

void policy_reporter::process(const std::string& ns) {
  std::shared_ptr<const desired_state> want;
  bool stale;
  {
    std::lock_guard lock(mutex_);
    want = judged_;
    stale = stale_.contains(ns);
  }
  if (!want || !leader_()) {
    queue_.forget(ns);
    return;
  }
  if (ns.empty()) return relist(*want);
  if (!want->roles(ns).secured || !namespaces_.labels_of(ns)) {
    {
      std::lock_guard lock(mutex_);
      verdicts_.erase(ns);
      events_.erase(ns);
      stale_.erase(ns);
      written_.erase(ns);
      written_version_.erase(ns);
      pending_.erase(ns);
    }
    return remove(ns);
  }
  if (stale && !refresh(ns, *want)) {
    queue_.add_rate_limited(ns);
    return;
  }
  write(ns);
}

void policy_reporter::relist(const desired_state& want) {
  {
    std::lock_guard lock(mutex_);
    touched_.emplace();
  }
  bool listed = true;
  for (const k8s::resource* r : judged_kinds) {
    auto page = reads_.list_all(*r, "", "");
    if (!page) {
      if (page.error().kind == k8s::failure_kind::crd_missing) continue;  // no Cilium
      logging::event(level::warn,
                     "policy report: a cluster-wide list failed; judging each secured namespace "
                     "from its own lists",
                     {{"resource", r->rbac_name()}, {"error", page.error().message}});
      listed = false;
      break;
    }
    on_list(*r, std::move(page->items));
  }
  const std::vector<std::string> secured = secured_existing(want);
  std::vector<std::string> again;
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> touched = std::move(*touched_);
    touched_.reset();
    if (judged_.get() != &want) return;
    // A list older than an event applied meanwhile may have undone it: those namespaces again.
    for (const auto& ns : secured) {
      if (listed && !touched.contains(ns)) continue;
      stale_.insert(ns);
      again.push_back(ns);
    }
  }
  for (const auto& ns : again) queue_.add(ns);
}

bool policy_reporter::refresh(const std::string& ns, const desired_state& want) {
  // Events during the lists make them stale: listed again (then taken as they are, the events
  // after them are applied on top).
  for (int attempt = 0;; ++attempt) {
    std::uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      seen = events_[ns];
    }
    verdicts fresh;
    for (const k8s::resource* r : judged_kinds) {
      auto page = reads_.list_all(*r, ns, "");
      if (!page) {
        if (page.error().kind == k8s::failure_kind::crd_missing) continue;  // no Cilium
        logging::event(
            level::warn, "policy report: listing the namespace's objects failed",
            {{"namespace", ns}, {"resource", r->rbac_name()}, {"error", page.error().message}});
        return false;
      }
      for (const auto& item : page->items) {
        if (auto entry = judge_object(*r, item, want.config()))
          fresh.insert_or_assign({std::string(r->kind), item.name}, std::move(*entry));
      }
    }
    std::lock_guard lock(mutex_);
    if (judged_.get() != &want) return true;  // a newer configuration judges it again
    if (events_[ns] != seen && attempt < 2) continue;
    if (fresh.empty()) {
      verdicts_.erase(ns);
    } else {
      verdicts_[ns] = std::move(fresh);
    }
    stale_.erase(ns);
    return true;
  }
}

void policy_reporter::write(const std::string& ns) {
  policy::namespace_findings findings;
  findings.namespace_name = ns;
  bool has_report;
  std::optional<std::size_t> last;
  {
    std::lock_guard lock(mutex_);
    if (crd_missing_) {
      pending_.insert(ns);
      queue_.forget(ns);
      return;
    }
    if (const auto it = verdicts_.find(ns); it != verdicts_.end()) {
      for (const auto& [key, entry] : it->second) {
        findings.entries.push_back(entry);
        ++(key.first == k8s::pods.kind ? findings.pods : findings.tenant_policies);
      }
    }
    has_report = reports_.contains(ns);
    if (const auto it = written_.find(ns); it != written_.end()) last = it->second;
  }
  const policy::policy_report report = policy::build_policy_report(findings);
  const std::size_t digest = std::hash<std::string>{}(report.json);
  if (has_report && last == digest) {
    queue_.forget(ns);
    return;
  }
  auto applied = writes_.apply(k8s::policy_reports, ns, policy::policy_report_name, report.json);
  if (applied) {
    writes_total_.add({"applied"});
    queue_.forget(ns);
    std::lock_guard lock(mutex_);
    written_[ns] = digest;
    written_version_[ns] = applied->resource_version;
    // reports_ follows the watch only: a deletion seen before this answer must not be undone.
    return;
  }
  const k8s::api_error& e = applied.error();
  if (!leader_()) return queue_.forget(ns);  // the next leader writes it
  switch (classify_failure(e)) {
    case failure_class::crd_missing: {
      std::lock_guard lock(mutex_);
      crd_missing_locked("apply");
      pending_.insert(ns);
      return queue_.forget(ns);
    }
    case failure_class::gone:
      return queue_.forget(ns);  // the namespace is going; nothing to report in
    default:
      break;
  }
  writes_total_.add({"failed"});
  const auto delay = queue_.add_rate_limited(ns, e.retry_after);
  logging::event(level::warn, "policy report not written, retrying",
                 {{"namespace", ns},
                  {"error", e.message},
                  {"status", static_cast<int>(e.status)},
                  {"retry_seconds", std::chrono::duration<double>(delay).count()}});
}

void policy_reporter::remove(const std::string& ns) {
  {
    std::lock_guard lock(mutex_);
    if (!reports_.contains(ns)) return queue_.forget(ns);
  }
  auto removed = writes_.remove(k8s::policy_reports, ns, policy::policy_report_name);
  const failure_class failure = removed ? failure_class::retry : classify_failure(removed.error());
  if (removed || failure == failure_class::gone || failure == failure_class::crd_missing) {
    if (removed) {
      writes_total_.add({"deleted"});
      logging::event(level::info, "policy report deleted: the namespace is not secured",
                     {{"namespace", ns}});
    }
    queue_.forget(ns);
    std::lock_guard lock(mutex_);
    reports_.erase(ns);
    return;
  }
  if (!leader_()) return queue_.forget(ns);
  writes_total_.add({"failed"});
  queue_.add_rate_limited(ns, removed.error().retry_after);
  logging::event(level::warn, "policy report not deleted, retrying",
                 {{"namespace", ns}, {"error", removed.error().message}});
}

void policy_reporter::on_list(const k8s::resource& r, std::vector<k8s::object_meta>&& items) {
  std::shared_ptr<const desired_state> want;
  {
    std::lock_guard lock(mutex_);
    want = judged_;
  }
  if (!want) return;  // nothing judged yet: the first pass lists each secured namespace
  std::map<std::string, verdicts> fresh;
  for (const auto& item : items) {
    if (!want->roles(item.namespace_name).secured) continue;
    if (auto entry = judge_object(r, item, want->config()))
      fresh[item.namespace_name].insert_or_assign({std::string(r.kind), item.name},
                                                  std::move(*entry));
  }
  items.clear();
  std::vector<std::string> changed;
  {
    std::lock_guard lock(mutex_);
    if (judged_ != want) return;
    const std::string kind(r.kind);
    // This kind's verdicts of every namespace are replaced by the list's.
    for (auto it = verdicts_.begin(); it != verdicts_.end();) {
      auto& held = it->second;
      verdicts none;
      const auto listed = fresh.find(it->first);
      verdicts& now = listed == fresh.end() ? none : listed->second;
      bool differs = false;
      for (auto o = held.begin(); o != held.end();) {
        if (o->first.first != kind) {
          ++o;
          continue;
        }
        const auto found = now.find(o->first);
        if (found == now.end()) {
          differs = true;
          o = held.erase(o);
          continue;
        }
        if (!same(found->second, o->second)) {
          differs = true;
          o->second = std::move(found->second);
        }
        now.erase(found);
        ++o;
      }
      if (!now.empty()) differs = true;
      for (auto& [key, entry] : now) held.insert_or_assign(key, std::move(entry));
      if (listed != fresh.end()) fresh.erase(listed);
      ++events_[it->first];
      if (differs) changed.push_back(it->first);
      it = held.empty() ? verdicts_.erase(it) : std::next(it);
    }
    for (auto& [ns, v] : fresh) {
      ++events_[ns];
      verdicts_.emplace(ns, std::move(v));
      changed.push_back(ns);
    }
  }
  for (const auto& ns : changed) later(ns);
}

void policy_reporter::on_event(const k8s::resource& r, const k8s::watch_event& e) {
  const std::string& ns = e.object.namespace_name;
  std::shared_ptr<const desired_state> want;
  {
    std::lock_guard lock(mutex_);
    want = judged_;
  }
  if (!want || !want->roles(ns).secured) return;
  std::optional<policy::report_entry> entry;
  if (e.event_type != k8s::watch_event::type::deleted)
    entry = judge_object(r, e.object, want->config());
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    if (judged_ != want) return;  // the new configuration's lists judge it
    ++events_[ns];
    if (touched_) touched_->insert(ns);
    const object_key key{std::string(r.kind), e.object.name};
    auto it = verdicts_.find(ns);
    if (!entry) {
      if (it != verdicts_.end() && it->second.erase(key) == 1) {
        changed = true;
        if (it->second.empty()) verdicts_.erase(it);
      }
    } else {
      auto& held = verdicts_[ns];
      const auto found = held.find(key);
      if (found == held.end() || !same(found->second, *entry)) {
        changed = true;
        held.insert_or_assign(key, std::move(*entry));
      }
    }
  }
  if (changed) later(ns);
}

void policy_reporter::on_report_list(std::vector<k8s::object_meta>&& items) {
  std::set<std::string> now;
  for (const auto& item : items)
    if (is_ours(item)) now.insert(item.namespace_name);
  std::set<std::string> queue;
  {
    std::lock_guard lock(mutex_);
    if (crd_missing_) {
      crd_missing_ = false;
      logging::event(level::info, "PolicyReport CRD is served now: writing the reports", {});
      queue.swap(pending_);
    }
    // Reports that came or went while the watch was away: written (or deleted) again.
    for (const auto& ns : now)
      if (!reports_.contains(ns)) queue.insert(ns);
    for (const auto& ns : reports_) {
      if (!now.contains(ns)) {
        written_.erase(ns);
        queue.insert(ns);
      }
    }
    reports_ = std::move(now);
  }
  for (const auto& ns : queue) later(ns);
}

void policy_reporter::on_report_event(const k8s::watch_event& e) {
  if (!is_ours(e.object)) return;
  const std::string& ns = e.object.namespace_name;
  {
    std::lock_guard lock(mutex_);
    if (e.event_type == k8s::watch_event::type::deleted) {
      reports_.erase(ns);
      written_.erase(ns);
    } else {
      reports_.insert(ns);
      const auto it = written_version_.find(ns);
      // Anyone else's write is overwritten; our own coming back is checked too (cheaply: the
      // digest matches), in case the namespace left the secured set meanwhile.
      if (it == written_version_.end() || it->second != e.object.resource_version)
        written_.erase(ns);
    }
  }
  later(ns);
}

void policy_reporter::crd_missing_locked(const char* where) {
  if (crd_missing_) return;
  crd_missing_ = true;
  logging::event(level::warn,
                 "PolicyReport CRD (policyreports.wgpolicyk8s.io) not installed: no reports are "
                 "written; metrics and /status still count; watching for it with backoff",
                 {{"call", where}});
}

void policy_reporter::on_error(const k8s::resource& r, const k8s::api_error& e, bool listing) {
  if (classify_failure(e) == failure_class::crd_missing) {
    // No Cilium: the manager says so. No PolicyReport CRD: said once, here.
    if (&r == &k8s::policy_reports) {
      std::lock_guard lock(mutex_);
      crd_missing_locked(listing ? "list" : "watch");
    }
    return;
  }
  const char* verb = listing ? "list" : "watch";
  if (log_unfixable(e, verb, r.rbac_name())) return;
  logging::event(level::warn, "policy report informer error, retrying",
                 {{"verb", verb}, {"resource", r.rbac_name()}, {"error", e.message}});
}

void policy_reporter::render_metrics(std::string& out) const {
  std::array<std::uint64_t, judged_kinds.size()> objects{};
  bool missing;
  {
    std::lock_guard lock(mutex_);
    missing = crd_missing_;
    for (const auto& [ns, held] : verdicts_) {
      for (const auto& [key, entry] : held) {
        for (std::size_t i = 0; i < judged_kinds.size(); ++i)
          if (key.first == judged_kinds[i]->kind) ++objects[i];
      }
    }
  }
  obs::append_family_header(out, "mlnetpol_policy_report_objects", "gauge",
                            "Objects in secured namespaces that break mlnetpol's rules (the "
                            "PolicyReports' results before their cap), by kind.");
  for (std::size_t i = 0; i < judged_kinds.size(); ++i)
    obs::append_sample(out, "mlnetpol_policy_report_objects", "kind", judged_kinds[i]->kind,
                       objects[i]);
  obs::append_family_header(out, "mlnetpol_policy_report_writes_total", "counter",
                            "PolicyReport writes by result (applied, deleted, failed).");
  writes_total_.render(out, "mlnetpol_policy_report_writes_total");
  obs::append_single(out, "mlnetpol_policy_report_crd_missing", "gauge",
                     "1 while the PolicyReport CRD is not served (reports are not written).",
                     std::uint64_t{missing ? 1u : 0u});
}

void policy_reporter::write_status(json_writer& w) const {
  std::lock_guard lock(mutex_);
  w.Key("policy_reports");
  w.StartObject();
  w.Key("crd_missing");
  w.Bool(crd_missing_);
  w.Key("namespaces");  // those with objects breaking a rule
  w.StartObject();
  for (const auto& [ns, held] : verdicts_) {
    std::uint64_t pods = 0;
    for (const auto& [key, entry] : held) pods += key.first == k8s::pods.kind ? 1 : 0;
    put(w, ns);
    w.StartObject();
    w.Key("pods");
    w.Uint64(pods);
    w.Key("tenant_policies");
    w.Uint64(held.size() - pods);
    w.Key("reported");
    w.Bool(reports_.contains(ns));
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace mlnetpol::controller
