#include "certs/rotation.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>

namespace mlnetpol::certs::rotation {
namespace {

using namespace std::chrono_literals;

std::string canonical(std::string_view pem) {
  auto blocks = split_bundle(pem);
  return blocks.empty() ? std::string() : std::move(blocks.front());
}

// Renewal point: two thirds into the certificate's life.
std::optional<wall::time_point> renew_at(std::string_view pem) {
  const auto info = inspect(pem);
  if (!info) return std::nullopt;
  return info->not_before + (info->not_after - info->not_before) * 2 / 3;
}

std::optional<wall::time_point> expires_at(std::string_view pem) {
  const auto info = inspect(pem);
  if (!info) return std::nullopt;
  return info->not_after;
}

// Issued a little in the past so a clock slightly behind ours accepts it at once.
wall::time_point backdated(wall::time_point now, std::chrono::seconds lifetime) {
  return now - std::min<std::chrono::seconds>(5min, lifetime / 10);
}

key_pair new_ca(wall::time_point now, const settings& s) {
  return issue_ca(s.names, backdated(now, s.ca_lifetime), now + s.ca_lifetime);
}

key_pair new_serving(const key_pair& ca, wall::time_point now, const settings& s) {
  auto not_after = now + s.serving_lifetime;
  if (const auto ca_end = expires_at(ca.cert_pem)) not_after = std::min(not_after, *ca_end);
  return issue_serving(ca, s.names, backdated(now, s.serving_lifetime), not_after);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The SANs issue_serving writes for these settings, to notice a changed --cert-service etc.
bool names_match(std::string_view pem, const settings& s) {
  const auto info = inspect(pem);
  if (!info) return false;
  std::vector<std::string> dns = service_dns_names(s.names.service, s.names.namespace_name);
  std::vector<std::string> ips;
  if (s.names.dev) {
    dns.emplace_back("localhost");
    ips.emplace_back("127.0.0.1");
  }
  dns.insert(dns.end(), s.names.extra_dns.begin(), s.names.extra_dns.end());
  ips.insert(ips.end(), s.names.extra_ips.begin(), s.names.extra_ips.end());
  return sorted(dns) == sorted(info->dns_names) && sorted(ips) == sorted(info->ip_addresses);
}

bool usable_ca(const std::optional<key_pair>& ca, wall::time_point now) {
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
  issue_options named = s.names;
  named.days = 1;
  return check_options(named);
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
  return sorted(split_bundle(pem));
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
        !signed_by(state.serving->cert_pem, state.signing->cert_pem) ||
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

}  // namespace mlnetpol::certs::rotation
