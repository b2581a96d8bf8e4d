#include "controller/cert_rotation.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/base64.hpp"
#include "k8s/json.hpp"

namespace mlnetpol::controller::cert {
namespace {

using namespace std::chrono_literals;
namespace json = k8s::json;

constexpr std::string_view trusted_since_key = "mlnetpol.io/next-ca-trusted-since";
constexpr std::string_view retire_after_key = "mlnetpol.io/retire-after";

// Secret data keys: what replicas serve, what caBundle holds, and the CA material (never leaves
// the cluster).
struct data_key {
  std::string_view name;
  std::optional<certs::key_pair> tls_state::*pair;
  bool cert;  // cert_pem, else key_pem
};
constexpr data_key pair_keys[] = {
    {"tls.crt", &tls_state::serving, true},        {"tls.key", &tls_state::serving, false},
    {"signing-ca.crt", &tls_state::signing, true}, {"signing-ca.key", &tls_state::signing, false},
    {"next-ca.crt", &tls_state::next, true},       {"next-ca.key", &tls_state::next, false},
};

std::string canonical(std::string_view pem) {
  auto blocks = certs::split_bundle(pem);
  return blocks.empty() ? std::string() : std::move(blocks.front());
}

// Renewal point: two thirds into the certificate's life.
std::optional<wall::time_point> renew_at(std::string_view pem) {
  const auto info = certs::inspect(pem);
  if (!info) return std::nullopt;
  return info->not_before + (info->not_after - info->not_before) * 2 / 3;
}

std::optional<wall::time_point> expires_at(std::string_view pem) {
  const auto info = certs::inspect(pem);
  if (!info) return std::nullopt;
  return info->not_after;
}

// Issued a little in the past so a clock slightly behind ours accepts it at once.
wall::time_point backdated(wall::time_point now, std::chrono::seconds lifetime) {
  return now - std::min<std::chrono::seconds>(5min, lifetime / 10);
}

certs::key_pair new_ca(wall::time_point now, const settings& s) {
  return certs::issue_ca(s.names, backdated(now, s.ca_lifetime), now + s.ca_lifetime);
}

certs::key_pair new_serving(const certs::key_pair& ca, wall::time_point now, const settings& s) {
  auto not_after = now + s.serving_lifetime;
  if (const auto ca_end = expires_at(ca.cert_pem)) not_after = std::min(not_after, *ca_end);
  return certs::issue_serving(ca, s.names, backdated(now, s.serving_lifetime), not_after);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The SANs issue_serving writes for these settings, to notice a changed --cert-service etc.
bool names_match(std::string_view pem, const settings& s) {
  const auto info = certs::inspect(pem);
  if (!info) return false;
  std::vector<std::string> dns = certs::service_dns_names(s.names.service, s.names.namespace_name);
  std::vector<std::string> ips;
  if (s.names.dev) {
    dns.emplace_back("localhost");
    ips.emplace_back("127.0.0.1");
  }
  dns.insert(dns.end(), s.names.extra_dns.begin(), s.names.extra_dns.end());
  ips.insert(ips.end(), s.names.extra_ips.begin(), s.names.extra_ips.end());
  return sorted(dns) == sorted(info->dns_names) && sorted(ips) == sorted(info->ip_addresses);
}

bool usable_ca(const std::optional<certs::key_pair>& ca, wall::time_point now) {
  if (!ca) return false;
  const auto end = expires_at(ca->cert_pem);
  return end && *end > now;
}

// Valid, unexpired certificates of a bundle, canonical.
std::vector<std::string> live_cas(const std::vector<std::string>& pems, wall::time_point now) {
  std::vector<std::string> out;
  for (const auto& pem : pems) {
    const auto end = expires_at(pem);
    if (end && *end > now && std::find(out.begin(), out.end(), pem) == out.end()) {
      out.push_back(pem);
    }
  }
  return out;
}

// Every JSON text written here goes through an escaping writer: names and annotation values
// come from flags and from the Secret the API server returned.
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void put_member(json_writer& w, std::string_view key, std::optional<std::string_view> value) {
  put_string(w, key);
  if (value) {
    put_string(w, *value);
  } else {
    w.Null();  // a merge patch deletes keys set to null
  }
}

// The Secret's "data" object for a state; with nulls for what it lacks when patching.
void put_data(json_writer& w, const tls_state& state, bool with_nulls) {
  w.StartObject();
  for (const auto& k : pair_keys) {
    const auto& pair = state.*k.pair;
    if (!pair && !with_nulls) continue;
    if (pair) {
      put_member(w, k.name, base64_encode(k.cert ? pair->cert_pem : pair->key_pem));
    } else {
      put_member(w, k.name, std::nullopt);
    }
  }
  put_member(w, "ca.crt", base64_encode(state.bundle()));
  w.EndObject();
}

void put_annotations(json_writer& w, const tls_state& state, bool with_nulls) {
  w.StartObject();
  if (state.next_trusted_since) {
    put_member(w, trusted_since_key, format_time(*state.next_trusted_since));
  } else if (with_nulls) {
    put_member(w, trusted_since_key, std::nullopt);
  }
  if (state.retire_after && !state.retiring.empty()) {
    put_member(w, retire_after_key, format_time(*state.retire_after));
  } else if (with_nulls) {
    put_member(w, retire_after_key, std::nullopt);
  }
  w.EndObject();
}

std::string text_of(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> decoded_member(const rapidjson::Value& data, std::string_view key) {
  const std::string_view text = json::string_member(data, key);
  if (text.empty()) return std::nullopt;
  return base64_decode(text);
}

}  // namespace

std::string check_settings(const settings& s) {
  if (s.serving_lifetime < 10s) return "the serving certificate lifetime must be at least 10s";
  if (s.ca_lifetime < s.serving_lifetime * 3) {
    return "the CA lifetime must be at least three serving lifetimes (a CA renewed at two thirds "
           "of its life must still outlive the serving certificates it signed)";
  }
  if (s.propagation * 6 > s.serving_lifetime) {
    return "the caBundle propagation wait must be at most a sixth of the serving lifetime";
  }
  certs::issue_options named = s.names;
  named.days = 1;
  return certs::check_options(named);
}

std::vector<std::string> tls_state::trusted() const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& pem) {
    std::string c = canonical(pem);
    if (!c.empty() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  if (signing) add(signing->cert_pem);
  if (next) add(next->cert_pem);
  for (const auto& r : retiring) add(r);
  std::sort(out.begin(), out.end());
  return out;
}

std::string tls_state::bundle() const {
  std::string out;
  for (const auto& pem : trusted()) out += pem;
  return out;
}

std::vector<std::string> bundle_set(std::string_view pem) {
  return sorted(certs::split_bundle(pem));
}

std::string format_time(wall::time_point t) {
  const std::time_t tt = wall::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<wall::time_point> parse_time(std::string_view text) {
  if (text.size() != 20 || text[19] != 'Z') return std::nullopt;
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 20) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return wall::from_time_t(timegm(&tm));
}

result<secret_view> decode_secret(std::string_view text) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, text); !parsed) return parsed.error();
  const auto* meta = json::object_member(doc, "metadata");
  if (meta == nullptr) return fail("Secret without metadata");
  secret_view view;
  view.resource_version = std::string(json::string_member(*meta, "resourceVersion"));
  const auto* data = json::object_member(doc, "data");
  if (data != nullptr) {
    for (const auto& k : pair_keys) {
      if (!k.cert) continue;
      const auto cert = decoded_member(*data, k.name);
      const auto key =
          decoded_member(*data, std::string(k.name.substr(0, k.name.size() - 3)) + "key");
      if (cert && key && !cert->empty() && !key->empty()) {
        view.state.*k.pair = certs::key_pair{*cert, *key};
      }
    }
    if (const auto bundle = decoded_member(*data, "ca.crt")) {
      std::vector<std::string> known;
      for (const auto* pair : {&view.state.signing, &view.state.next}) {
        if (*pair) known.push_back(canonical((*pair)->cert_pem));
      }
      for (auto& pem : certs::split_bundle(*bundle)) {
        if (std::find(known.begin(), known.end(), pem) == known.end()) {
          view.state.retiring.push_back(std::move(pem));
        }
      }
    }
  }
  if (const auto* annotations = json::object_member(*meta, "annotations")) {
    view.state.next_trusted_since =
        parse_time(json::string_member(*annotations, trusted_since_key));
    view.state.retire_after = parse_time(json::string_member(*annotations, retire_after_key));
  }
  if (!view.state.next) view.state.next_trusted_since.reset();
  if (view.state.retiring.empty()) view.state.retire_after.reset();
  return view;
}

std::string secret_object(const tls_state& state, std::string_view ns, std::string_view name) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  put_member(w, "apiVersion", "v1");
  put_member(w, "kind", "Secret");
  put_member(w, "type", "Opaque");
  put_string(w, "metadata");
  w.StartObject();
  put_member(w, "name", name);
  put_member(w, "namespace", ns);
  put_string(w, "labels");
  w.StartObject();
  put_member(w, "app.kubernetes.io/name", "mlnetpol");
  put_member(w, "app.kubernetes.io/component", "webhook-tls");
  w.EndObject();
  put_string(w, "annotations");
  put_annotations(w, state, false);
  w.EndObject();
  put_string(w, "data");
  put_data(w, state, false);
  w.EndObject();
  return text_of(buffer);
}

std::string secret_patch(const tls_state& state, std::string_view resource_version) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  put_string(w, "metadata");
  w.StartObject();
  put_member(w, "resourceVersion", resource_version);
  put_string(w, "annotations");
  put_annotations(w, state, true);
  w.EndObject();
  put_string(w, "data");
  put_data(w, state, true);
  w.EndObject();
  return text_of(buffer);
}

result<webhook_view> decode_webhook_configuration(std::string_view text) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, text); !parsed) return parsed.error();
  const auto* meta = json::object_member(doc, "metadata");
  if (meta == nullptr) return fail("webhook configuration without metadata");
  webhook_view view;
  view.resource_version = std::string(json::string_member(*meta, "resourceVersion"));
  const auto* hooks = json::member(doc, "webhooks");
  if (hooks == nullptr || !hooks->IsArray()) return view;
  for (const auto& hook : hooks->GetArray()) {
    std::vector<std::string> cas;
    if (const auto* client = json::object_member(hook, "clientConfig")) {
      if (const auto bundle = decoded_member(*client, "caBundle")) {
        cas = sorted(certs::split_bundle(*bundle));
      }
    }
    view.bundles.push_back(std::move(cas));
  }
  return view;
}

result<std::string> bundle_patch(std::string_view configuration_json, std::string_view bundle_pem) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, configuration_json); !parsed) return parsed.error();
  const auto* meta = json::object_member(doc, "metadata");
  const auto* hooks = json::member(doc, "webhooks");
  if (meta == nullptr || hooks == nullptr || !hooks->IsArray()) {
    return fail("webhook configuration without webhooks");
  }
  // A JSON patch touching caBundle only (so mlnetpol owns no other field of the configuration,
  // and a later `kubectl apply --server-side` of the manifests meets no conflict), guarded by the
  // resourceVersion read: entries moved in between make the test fail, not the wrong entry change.
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartArray();
  w.StartObject();
  put_member(w, "op", "test");
  put_member(w, "path", "/metadata/resourceVersion");
  put_member(w, "value", json::string_member(*meta, "resourceVersion"));
  w.EndObject();
  const std::string encoded = base64_encode(bundle_pem);
  rapidjson::SizeType i = 0;
  for (const auto& hook : hooks->GetArray()) {
    if (!hook.IsObject()) return fail("a webhook entry is not an object");
    const std::string index = std::to_string(i++);
    if (json::object_member(hook, "clientConfig") == nullptr) {
      return fail("webhook entry " + index + " has no clientConfig");
    }
    w.StartObject();
    put_member(w, "op", "add");
    put_member(w, "path", "/webhooks/" + index + "/clientConfig/caBundle");
    put_member(w, "value", encoded);
    w.EndObject();
  }
  w.EndArray();
  return text_of(buffer);
}

std::string_view to_string(event e) {
  switch (e) {
    case event::none:
      return "none";
    case event::initial_ca:
      return "initial_ca";
    case event::secret_recreated:
      return "secret_recreated";
    case event::ca_staged:
      return "ca_staged";
    case event::ca_trusted:
      return "ca_trusted";
    case event::ca_untrusted:
      return "ca_untrusted";
    case event::ca_switched:
      return "ca_switched";
    case event::ca_retired:
      return "ca_retired";
    case event::serving_renewed:
      return "serving_renewed";
    case event::bundle_repaired:
      return "bundle_repaired";
  }
  return "unknown";
}

namespace {

step decide(const std::optional<tls_state>& secret,
            const std::vector<std::vector<std::string>>& observed,
            const std::optional<tls_state>& remembered, wall::time_point now_exact,
            const settings& s) {
  // Whole seconds: what the Secret's annotations and the certificates can hold.
  const wall::time_point now = std::chrono::floor<std::chrono::seconds>(now_exact);
  step out;
  auto write = [&](action a, event why, tls_state state) {
    std::sort(state.retiring.begin(), state.retiring.end());  // as decode_secret reads them back
    out.what = a;
    out.why = why;
    out.state = std::move(state);
    return out;
  };
  // Every CA some caBundle holds now, still valid: kept trusted when we must start over.
  auto observed_live = [&] {
    std::vector<std::string> all;
    for (const auto& entry : observed) all.insert(all.end(), entry.begin(), entry.end());
    return live_cas(all, now);
  };

  if (!secret) {
    if (remembered) return write(action::create_secret, event::secret_recreated, *remembered);
    tls_state fresh;
    fresh.next = new_ca(now, s);
    fresh.retiring = observed_live();
    if (!fresh.retiring.empty()) fresh.retire_after = now + s.serving_lifetime + s.clock_margin;
    return write(action::create_secret,
                 fresh.retiring.empty() ? event::initial_ca : event::secret_recreated, fresh);
  }
  tls_state state = *secret;

  // No usable CA at all (a Secret made elsewhere, or both CAs expired): stage a new one and keep
  // trusting what is trusted now until the certificates it may have signed expired.
  if (!usable_ca(state.signing, now) && !usable_ca(state.next, now)) {
    std::vector<std::string> keep = observed_live();
    for (const auto& pem : live_cas(state.retiring, now)) keep.push_back(pem);
    if (state.signing) keep.push_back(canonical(state.signing->cert_pem));
    state.signing.reset();
    state.next = new_ca(now, s);
    state.next_trusted_since.reset();
    state.retiring = live_cas(keep, now);
    state.retire_after.reset();
    if (!state.retiring.empty()) state.retire_after = now + s.serving_lifetime + s.clock_margin;
    return write(action::update_secret, event::initial_ca, state);
  }

  // Old CAs whose serving certificates have all expired leave (Secret first, caBundle follows).
  if (!state.retiring.empty() && (!state.retire_after || *state.retire_after <= now)) {
    state.retiring.clear();
    state.retire_after.reset();
    return write(action::update_secret, event::ca_retired, state);
  }

  const std::vector<std::string> want = state.trusted();
  const std::string next_pem = state.next ? canonical(state.next->cert_pem) : std::string();
  bool all_match = !observed.empty();
  bool next_everywhere = !observed.empty();
  for (const auto& entry : observed) {
    if (entry != want) all_match = false;
    if (std::find(entry.begin(), entry.end(), next_pem) == entry.end()) next_everywhere = false;
  }
  if (state.next && state.next_trusted_since && !next_everywhere) {
    // The propagation wait only counts while every caBundle holds the staged CA.
    state.next_trusted_since.reset();
    return write(action::update_secret, event::ca_untrusted, state);
  }
  if (!all_match) {
    out.what = action::patch_bundles;
    out.why = event::bundle_repaired;
    out.bundle = state.bundle();
    return out;
  }
  if (state.next && !state.next_trusted_since) {
    // Rounded up: the wait never comes out shorter than the propagation.
    state.next_trusted_since = now + std::chrono::seconds(1);
    return write(action::update_secret, event::ca_trusted, state);
  }
  if (state.next && *state.next_trusted_since + s.propagation <= now) {
    // The switch: the staged CA signs; the old one stays trusted until its last serving
    // certificate expired.
    std::optional<wall::time_point> old_end;
    if (state.serving) old_end = expires_at(state.serving->cert_pem);
    if (state.signing) {
      state.retiring.push_back(canonical(state.signing->cert_pem));
    }
    if (!state.retiring.empty()) {
      const auto until = old_end ? *old_end + s.clock_margin : now;
      state.retire_after = state.retire_after ? std::max(*state.retire_after, until) : until;
    }
    state.signing = std::move(state.next);
    state.next.reset();
    state.next_trusted_since.reset();
    state.serving = new_serving(*state.signing, now, s);
    return write(action::update_secret, event::ca_switched, state);
  }

  std::vector<wall::time_point> due;
  if (state.signing && usable_ca(state.signing, now)) {
    const auto serving_due =
        state.serving ? renew_at(state.serving->cert_pem) : std::optional<wall::time_point>();
    if (!state.serving || !serving_due || *serving_due <= now ||
        !certs::signed_by(state.serving->cert_pem, state.signing->cert_pem) ||
        !names_match(state.serving->cert_pem, s)) {
      state.serving = new_serving(*state.signing, now, s);
      return write(action::update_secret, event::serving_renewed, state);
    }
    due.push_back(*serving_due);
    if (!state.next) {
      const auto ca_due = renew_at(state.signing->cert_pem);
      if (!ca_due || *ca_due <= now) {
        state.next = new_ca(now, s);
        return write(action::update_secret, event::ca_staged, state);
      }
      due.push_back(*ca_due);
    }
  }
  if (state.next && state.next_trusted_since)
    due.push_back(*state.next_trusted_since + s.propagation);
  if (state.retire_after && !state.retiring.empty()) due.push_back(*state.retire_after);
  out.wake = due.empty() ? now + s.propagation : *std::min_element(due.begin(), due.end());
  return out;
}

}  // namespace

result<step> plan(const std::optional<tls_state>& secret,
                  const std::vector<std::vector<std::string>>& observed,
                  const std::optional<tls_state>& remembered, wall::time_point now,
                  const settings& s) {
  // certs' issuing functions throw (they serve start-up and the CLI too); here a failure is one
  // failed pass, retried on the next.
  try {
    return decide(secret, observed, remembered, now, s);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace mlnetpol::controller::cert
