#include "controller/cert_manager.hpp"

#include <algorithm>

#include "common/base64.hpp"
#include "common/obs/logging.hpp"
#include "common/obs/metrics.hpp"

namespace mlnetpol::controller {
namespace {

using namespace std::chrono_literals;
namespace logging = obs::logging;
namespace rotation = certs::rotation;
using level = spdlog::level::level_enum;

double unix_seconds(rotation::wall::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

cert_manager::cert_manager(k8s::rest_config rest, cert_manager_options options, pair_sink sink,
                           std::function<bool()> is_leader)
    : options_(std::move(options)), sink_(std::move(sink)), is_leader_(std::move(is_leader)) {
  if (!is_leader_) {
    election_api_ = make_client_cluster(std::make_unique<k8s::client>(rest));
    const auto log = [this](const char* what) {
      logging::event(level::info, what, {{"identity", election_->identity()}});
    };
    election_ = std::make_unique<leader_election_loop>(
        *election_api_, options_.election,
        leader_callbacks{[this, log] {
                           log("certificate manager: leading");
                           wake_leader();
                         },
                         [log](std::string_view) { log("certificate manager: not leading"); },
                         {}});
  }
  client_ = std::make_unique<k8s::client>(std::move(rest));
}

cert_manager::~cert_manager() {
  stop();
}

void cert_manager::start() {
  if (started_) return;
  started_ = true;
  watches_.push_back(
      watch_object(k8s::secrets, options_.secret_namespace, options_.secret_name, [this] {
        refresh_from_secret();
        wake_leader();
      }));
  // A change to a configuration wakes the leader at once (it re-reads both and sets them back).
  if (!options_.shipped.mutating.empty() || !options_.shipped.validating.empty()) {
    watches_.push_back(watch_object(k8s::mutating_webhook_configurations, "",
                                    options_.mutating_webhook, [this] { wake_leader(); }));
    watches_.push_back(watch_object(k8s::validating_webhook_configurations, "",
                                    options_.validating_webhook, [this] { wake_leader(); }));
  }
  for (auto& w : watches_) w->start();
  leader_thread_ = std::thread([this] { leader_loop(); });
  if (election_) election_->start();
}

void cert_manager::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : watches_) w->request_stop();
  client_->cancel();  // ends the watches in flight
  for (auto& w : watches_) w->join();
  if (leader_thread_.joinable()) leader_thread_.join();
  if (election_) election_->stop();  // releases the lease
  if (election_api_) election_api_->cancel();
}

bool cert_manager::leader() const {
  return is_leader_ ? is_leader_() : election_->leader();
}

bool cert_manager::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, d, [this] { return stopping_ || wake_; });
  wake_ = false;
  return !stopping_;
}

void cert_manager::wake_leader() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  cv_.notify_all();
}

std::string cert_manager::not_ready() const {
  std::lock_guard lock(mutex_);
  if (serving_) return "";
  return "waiting for the leader to issue the serving certificate (Secret " +
         options_.secret_namespace + "/" + options_.secret_name + ")";
}

// Every replica: the Secret's serving pair, in force within a watch event's delay. A deleted
// Secret or one without a pair changes nothing here: the pair in force stays (its CA is still in
// caBundle until it expires), and the leader writes the Secret back.
void cert_manager::refresh_from_secret() {
  auto raw = client_->get_raw(k8s::secrets, options_.secret_namespace, options_.secret_name);
  if (!raw) {
    if (raw.error().kind != k8s::failure_kind::not_found) {
      ++errors_;
      logging::event(level::warn, "cannot read the TLS Secret",
                     {{"secret", options_.secret_name}, {"error", raw.error().message}});
    }
    return;
  }
  auto view = cert::decode_secret(*raw);
  if (!view) {
    logging::event(level::err, "the TLS Secret does not decode",
                   {{"secret", options_.secret_name}, {"error", view.error().message}});
    return;
  }
  std::optional<certs::key_pair> pair = view->state.serving;
  double ca_end = 0;
  if (view->state.signing) {
    if (const auto info = certs::inspect(view->state.signing->cert_pem)) {
      ca_end = unix_seconds(info->not_after);
    }
  }
  const bool leading = leader();
  {
    std::lock_guard lock(mutex_);
    // Only the leader keeps the CA keys (to write a deleted Secret back); the others drop them
    // with this read and hold nothing but the serving pair.
    if (leading) {
      remembered_ = view->state;
    } else {
      remembered_.reset();
    }
    ca_not_after_ = ca_end;
    if (!pair || (serving_ && *serving_ == *pair)) return;
  }
  const std::string error = sink_(*pair);
  const auto info = certs::inspect(pair->cert_pem);
  std::lock_guard lock(mutex_);
  if (!error.empty()) {
    if (error != last_error_) {
      logging::event(level::err,
                     "serving certificate from the Secret rejected; keeping the pair in force",
                     {{"error", error}});
    }
    last_error_ = error;
    return;
  }
  last_error_.clear();
  serving_ = pair;
  serving_serial_ = info ? info->serial_hex : "";
  serving_not_after_ = info ? unix_seconds(info->not_after) : 0;
  ++reloads_;
  logging::event(level::info, "serving certificate from the Secret in force",
                 {{"serial", serving_serial_},
                  {"not_after", info ? rotation::format_time(info->not_after) : ""}});
}

std::unique_ptr<informer> cert_manager::watch_object(const k8s::resource& r,
                                                     const std::string& ns,
                                                     const std::string& name,
                                                     std::function<void()> on_change) {
  // The object itself is re-read by on_change (a list of one, or none once deleted); a list or an
  // event is only the signal. A refused list re-reads too, so a Role without `list` still serves
  // the Secret's pair, polled at the backoff.
  informer_handlers handlers{[on_change](std::vector<k8s::object_meta>&&) { on_change(); },
                             [on_change](const k8s::watch_event&) { on_change(); },
                             [on_change](const k8s::api_error&, bool listing) {
                               if (listing) on_change();
                             }};
  // Backs off up to the check interval, so a watch RBAC refuses (an install with an old Role) does
  // not poll the API server every second.
  informer_options o;
  o.min_backoff = 1s;
  o.max_backoff = std::max<std::chrono::milliseconds>(1s, options_.check_interval);
  return std::make_unique<informer>(object_source(*client_, r, ns, name), std::move(handlers), o);
}

void cert_manager::leader_loop() {
  while (true) {
    std::chrono::milliseconds wait = options_.check_interval;
    next_due_.reset();
    if (!leader()) {
      std::lock_guard lock(mutex_);
      remembered_.reset();  // a replica that stopped leading forgets the CA keys
    }
    if (leader()) {
      // A handful of steps per pass: each one re-reads what it acts on.
      for (int i = 0; i < 16 && leader(); ++i) {
        {
          std::lock_guard lock(mutex_);
          if (stopping_) return;
        }
        if (!leader_pass()) break;
      }
      // Wake for a step due before the next check (the end of a propagation wait).
      if (next_due_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *next_due_ - rotation::wall::now() + std::chrono::milliseconds(50));
        wait = std::clamp(left, std::chrono::milliseconds(50), wait);
      }
    }
    if (!sleep_for(wait)) return;
  }
}

// One plan/act step of the leader: read the Secret and both configurations (a configuration set
// back as shipped ends the pass), plan, then carry out the one write the plan names.
bool cert_manager::leader_pass() {
  pass_view seen;
  if (!read_secret(seen)) return false;
  switch (read_configurations(seen)) {
    case read_outcome::failed:
      return false;
    case read_outcome::repaired:
      return true;
    case read_outcome::read:
      break;
  }
  std::optional<rotation::tls_state> remembered;
  {
    std::lock_guard lock(mutex_);
    remembered = remembered_;
  }
  auto step = rotation::plan(seen.secret, seen.bundles(), remembered, rotation::wall::now(),
                             options_.rotation);
  if (!step) {
    ++errors_;
    logging::event(level::err, "certificate manager: cannot issue",
                   {{"error", step.error().message}});
    return false;
  }
  bool wrote = false;
  switch (step->what) {
    case rotation::action::idle:
      settle(*step, seen);
      return false;
    case rotation::action::create_secret:
      wrote = create_secret(*step, remembered.has_value());
      break;
    case rotation::action::update_secret:
      wrote = update_secret(*step, seen.secret_version);
      break;
    case rotation::action::patch_bundles:
      wrote = patch_bundles(*step, seen);
      break;
  }
  if (!wrote) return false;
  last_pass_error_.clear();
  std::lock_guard lock(mutex_);
  if (step->what != rotation::action::patch_bundles) remembered_ = step->state;
  return true;
}

std::vector<std::vector<std::string>> cert_manager::pass_view::bundles() const {
  std::vector<std::vector<std::string>> observed;
  for (const auto& c : configs) {
    observed.insert(observed.end(), c.view.bundles.begin(), c.view.bundles.end());
  }
  return observed;
}

bool cert_manager::pass_failed(std::string_view what, const k8s::api_error& e) {
  ++errors_;
  // Once per distinct failure, not once per check interval (a missing webhook configuration).
  std::string line = std::string(what) + ": " + e.message;
  if (line != last_pass_error_) {
    logging::event(level::warn, "certificate manager: " + std::string(what),
                   {{"error", e.message}, {"status", static_cast<int>(e.status)}});
    last_pass_error_ = std::move(line);
  }
  return false;
}

bool cert_manager::read_secret(pass_view& seen) {
  const auto& o = options_;
  auto raw = client_->get_raw(k8s::secrets, o.secret_namespace, o.secret_name);
  if (!raw) {
    if (raw.error().kind == k8s::failure_kind::not_found) return true;  // secret stays nullopt
    return pass_failed("cannot read the TLS Secret", raw.error());
  }
  auto view = cert::decode_secret(*raw);
  if (!view) {
    ++errors_;
    logging::event(level::err, "certificate manager: the TLS Secret does not decode",
                   {{"error", view.error().message}});
    return false;
  }
  seen.secret = std::move(view->state);
  seen.secret_version = std::move(view->resource_version);
  std::lock_guard lock(mutex_);
  remembered_ = seen.secret;  // what a deleted Secret is written back from
  return true;
}

cert_manager::read_outcome cert_manager::read_configurations(pass_view& seen) {
  const auto& o = options_;
  seen.configs[0] = {&k8s::mutating_webhook_configurations, &o.mutating_webhook,
                     &o.shipped.mutating, {}, {}};
  seen.configs[1] = {&k8s::validating_webhook_configurations, &o.validating_webhook,
                     &o.shipped.validating, {}, {}};
  for (auto& c : seen.configs) {
    auto got = client_->get_raw(*c.r, "", *c.name);
    if (!got) {
      pass_failed("cannot read " + c.r->rbac_name() + "/" + *c.name, got.error());
      return read_outcome::failed;
    }
    auto view = cert::decode_webhook_configuration(*got);
    if (!view) {
      ++errors_;
      logging::event(level::err, "certificate manager: webhook configuration does not decode",
                     {{"name", *c.name}, {"error", view.error().message}});
      return read_outcome::failed;
    }
    // The whole configuration first: the rotation then sees the shipped webhooks only. A repair
    // that fails (a policy refusing it) leaves the rotation to go on.
    if (!c.shipped->empty() &&
        repair_configuration(*c.r, *c.name, *got, *c.shipped, seen.secret)) {
      return read_outcome::repaired;
    }
    c.raw = std::move(*got);
    c.view = std::move(*view);
  }
  return read_outcome::read;
}

void cert_manager::settle(const rotation::step& step, const pass_view& seen) {
  next_due_ = step.wake;
  last_pass_error_.clear();
  std::lock_guard lock(mutex_);
  last_good_bundle_ = seen.secret ? seen.secret->trusted() : std::vector<std::string>{};
}

bool cert_manager::create_secret(const rotation::step& step, bool from_memory) {
  const auto& o = options_;
  auto created = client_->create(k8s::secrets, o.secret_namespace,
                                 cert::secret_object(step.state, o.secret_namespace, o.secret_name));
  if (!created) return pass_failed("cannot create the TLS Secret", created.error());
  if (step.why == rotation::event::secret_recreated) {
    ++secret_recreations_;
    logging::event(level::warn, "the TLS Secret was missing: written back",
                   {{"secret", o.secret_name}, {"from", from_memory ? "memory" : "caBundle"}});
  } else {
    logging::event(level::info, "TLS Secret created with a new CA (staged, not signing yet)",
                   {{"secret", o.secret_name}});
  }
  return true;
}

bool cert_manager::update_secret(const rotation::step& step, const std::string& secret_version) {
  const auto& o = options_;
  const std::string why(rotation::to_string(step.why));
  auto patched = client_->merge_patch(k8s::secrets, o.secret_namespace, o.secret_name,
                                      cert::secret_patch(step.state, secret_version));
  if (!patched) return pass_failed("cannot update the TLS Secret (" + why + ")", patched.error());
  if (step.why == rotation::event::serving_renewed) ++serving_rotations_;
  if (step.why == rotation::event::ca_switched) {
    ++ca_rotations_;
    ++serving_rotations_;
  }
  std::string serial;
  if (step.state.serving) {
    if (auto info = certs::inspect(step.state.serving->cert_pem)) serial = info->serial_hex;
  }
  logging::event(step.why == rotation::event::ca_untrusted ? level::warn : level::info,
                 "TLS Secret updated",
                 {{"step", why},
                  {"serving_serial", serial},
                  {"trusted_cas", static_cast<int>(step.state.trusted().size())}});
  return true;
}

bool cert_manager::patch_bundles(const rotation::step& step, const pass_view& seen) {
  const auto want = rotation::bundle_set(step.bundle);
  std::vector<std::string> last_good;
  {
    std::lock_guard lock(mutex_);
    last_good = last_good_bundle_;
  }
  for (const auto& c : seen.configs) {
    bool differs = false;
    bool tampered = false;
    for (const auto& entry : c.view.bundles) {
      if (entry != want) differs = true;
      if (entry != last_good) tampered = true;
    }
    if (!differs) continue;
    auto patch = cert::bundle_patch(c.raw, step.bundle);
    if (!patch) {
      ++errors_;
      logging::event(level::err, "certificate manager: cannot build the caBundle patch",
                     {{"name", *c.name}, {"error", patch.error().message}});
      return false;
    }
    auto patched = client_->json_patch(*c.r, "", *c.name, *patch);
    if (!patched) return pass_failed("cannot patch caBundle of " + *c.name, patched.error());
    if (tampered && !last_good.empty()) {
      ++bundle_repairs_;
      logging::event(level::warn, "caBundle was changed by someone else: repaired",
                     {{"kind", std::string(c.r->kind)},
                      {"name", *c.name},
                      {"trusted_cas", static_cast<int>(want.size())}});
    } else {
      ++bundle_updates_;
      logging::event(level::info, "caBundle updated to the Secret's CAs",
                     {{"kind", std::string(c.r->kind)},
                      {"name", *c.name},
                      {"trusted_cas", static_cast<int>(want.size())}});
    }
  }
  std::lock_guard lock(mutex_);
  last_good_bundle_ = want;
  return true;
}

bool cert_manager::repair_configuration(const k8s::resource& r, const std::string& name,
                                        const std::string& raw, const std::string& desired,
                                        const std::optional<rotation::tls_state>& secret) {
  auto changes = webhooks::differences(raw, desired);
  if (!changes) {
    ++errors_;
    logging::event(level::err, "certificate manager: cannot compare the webhook configuration",
                   {{"name", name}, {"error", changes.error().message}});
    return false;
  }
  if (changes->empty()) return false;
  // A webhook put back gets the CAs the Secret says are trusted; the rotation corrects the rest.
  const std::string fallback = secret ? base64_encode(secret->bundle()) : std::string();
  auto patch = webhooks::repair_patch(raw, desired, fallback);
  if (!patch) {
    ++errors_;
    logging::event(level::err, "certificate manager: cannot build the webhook configuration repair",
                   {{"name", name}, {"error", patch.error().message}});
    return false;
  }
  std::string what;
  for (const auto& c : *changes) what += (what.empty() ? "" : "; ") + c;
  std::string writers;
  for (const auto& m : webhooks::other_managers(raw)) writers += (writers.empty() ? "" : ", ") + m;
  auto patched = client_->json_patch(r, "", name, *patch);
  if (!patched) {
    ++errors_;
    // Once per distinct failure (a policy refusing the write answers the same on every pass).
    std::string line = name + ": " + what + ": " + patched.error().message;
    if (line == last_repair_error_) return false;
    last_repair_error_ = std::move(line);
    logging::event(level::err, "webhook configuration changed by someone else: cannot set it back",
                   {{"kind", std::string(r.kind)},
                    {"name", name},
                    {"changes", what},
                    {"managers", writers},
                    {"error", patched.error().message},
                    {"status", static_cast<int>(patched.error().status)}});
    return false;
  }
  last_repair_error_.clear();
  ++configuration_repairs_;
  logging::event(
      level::warn, "webhook configuration changed by someone else: set back as shipped",
      {{"kind", std::string(r.kind)}, {"name", name}, {"changes", what}, {"managers", writers}});
  return true;
}

std::string cert_manager::metrics_text() const {
  using obs::append_family_header;
  using obs::append_sample;
  std::int64_t serving_end = 0;
  std::int64_t ca_end = 0;
  {
    std::lock_guard lock(mutex_);
    // Whole seconds: certificates carry no finer time.
    serving_end = static_cast<std::int64_t>(serving_not_after_);
    ca_end = static_cast<std::int64_t>(ca_not_after_);
  }
  std::string out;
  append_family_header(
      out, "mlnetpol_cert_serving_not_after_timestamp_seconds", "gauge",
      "notAfter of the serving certificate this replica serves from the Secret (0: none yet).");
  append_sample(out, "mlnetpol_cert_serving_not_after_timestamp_seconds", "replica",
                options_.identity, serving_end);
  append_family_header(
      out, "mlnetpol_cert_ca_not_after_timestamp_seconds", "gauge",
      "notAfter of the CA signing the serving certificates, as this replica last read it.");
  append_sample(out, "mlnetpol_cert_ca_not_after_timestamp_seconds", "replica", options_.identity,
                ca_end);
  append_family_header(out, "mlnetpol_cert_reloads_total", "counter",
                       "Serving pairs from the Secret this replica put in force.");
  append_sample(out, "mlnetpol_cert_reloads_total", "replica", options_.identity, reloads_.load());
  append_family_header(out, "mlnetpol_cert_rotations_total", "counter",
                       "Certificates rotated by this replica as leader.");
  append_sample(out, "mlnetpol_cert_rotations_total", "kind", "serving", serving_rotations_.load());
  append_sample(out, "mlnetpol_cert_rotations_total", "kind", "ca", ca_rotations_.load());
  struct counter_row {
    std::string_view name;
    std::string_view help;
    std::uint64_t value;
  };
  const counter_row counters[] = {
      {"mlnetpol_cert_cabundle_repairs_total",
       "caBundle edits by someone else that the leader set back.", bundle_repairs_.load()},
      {"mlnetpol_cert_cabundle_updates_total",
       "caBundle writes following the Secret (new or retired CA).", bundle_updates_.load()},
      {"mlnetpol_webhook_configuration_repairs_total",
       "Webhook configuration changes beyond caBundle (webhooks, rules, selectors, policies) the "
       "leader set back to what mlnetpol ships.",
       configuration_repairs_.load()},
      {"mlnetpol_cert_secret_recreations_total", "Times the leader wrote back a deleted Secret.",
       secret_recreations_.load()},
      {"mlnetpol_cert_errors_total", "Failed API calls and rejected material.", errors_.load()},
  };
  for (const auto& c : counters) obs::append_single(out, c.name, "counter", c.help, c.value);
  return out;
}

}  // namespace mlnetpol::controller
