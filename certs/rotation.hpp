#pragma once
// The webhook certificates' rotation protocol, as a pure decision: given what the Secret holds,
// what caBundle every webhook entry holds and the time, the one next write the leader makes.
// Pure apart from the clock it is given and OpenSSL issuing keys: tests drive it with a fake clock;
// controller::cert_manager runs it against the API server (controller/cert_codec.hpp reads and
// writes the Secret and the caBundles it speaks of).
//
// The Secret is the source of truth; caBundle follows it. Rules (docs/certificates.md):
// - a CA enters caBundle as `next` and signs nothing until every webhook entry has held it for
//   `propagation` (the time a caBundle change takes to reach every API server's webhook client);
// - a CA leaves caBundle only when every serving certificate it signed has expired (plus a clock
//   margin): then no replica can serve one successfully anyway, however late it picks up the
//   Secret, so removing it refuses nothing;
// - serving certificates and CAs renew at two thirds of their life.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "certs/certs.hpp"
#include "common/result.hpp"

namespace mlnetpol::certs::rotation {

using wall = std::chrono::system_clock;

struct settings {
  issue_options names;  // service, namespace, dev / extra SANs (days unused)
  std::chrono::seconds ca_lifetime{std::chrono::hours(24 * 365)};
  std::chrono::seconds serving_lifetime{std::chrono::hours(24 * 90)};
  // How long a CA sits in caBundle before it signs the serving certificate.
  std::chrono::seconds propagation{std::chrono::seconds(60)};
  // Clock difference tolerated between this leader and the API servers.
  std::chrono::seconds clock_margin{std::chrono::seconds(60)};
};
// Why settings cannot work ("" when they can): the CA must outlive the serving certificates it
// signs after its own renewal point (ca >= 3 x serving), and the serving certificate must be long
// against the propagation wait.
std::string check_settings(const settings& s);

struct tls_state {
  std::optional<key_pair> signing;  // the CA that signs serving certificates now
  std::optional<key_pair> next;     // a CA in caBundle (or going there), not signing yet
  std::vector<std::string> retiring;       // older CAs still trusted (canonical PEM)
  std::optional<wall::time_point> next_trusted_since;  // every entry held `next` from then on
  std::optional<wall::time_point> retire_after;        // when `retiring` may leave caBundle
  std::optional<key_pair> serving;              // tls.crt / tls.key
  // The CAs caBundle must hold (canonical PEM, sorted) and their concatenation.
  std::vector<std::string> trusted() const;
  std::string bundle() const;
  bool operator==(const tls_state&) const = default;
};

// --- the decision ---
enum class action { idle, create_secret, update_secret, patch_bundles };
enum class event {
  none,
  initial_ca,        // first CA staged (fresh install)
  secret_recreated,  // the Secret was deleted: written back from memory (or re-staged)
  ca_staged,         // a new CA next to the old one
  ca_trusted,        // every caBundle holds the staged CA: propagation wait starts
  ca_untrusted,      // someone removed the staged CA from a caBundle: the wait starts over
  ca_switched,       // the staged CA signs the serving certificate now
  ca_retired,        // old CAs left
  serving_renewed,   // new serving certificate, same CA
  bundle_repaired,   // caBundle set back to the Secret's CAs
};
std::string_view to_string(event e);

struct step {
  action what = action::idle;
  event why = event::none;
  tls_state state;          // create_secret / update_secret: the Secret's new content
  std::string bundle;       // patch_bundles: what every caBundle gets
  wall::time_point wake{};  // idle: when something is due next
};

// secret: the Secret's state, nullopt when it does not exist. observed: the CA sets of every
// webhook entry of both configurations. remembered: the last state this process saw, to write
// back when the Secret was deleted. An error only when OpenSSL cannot issue (OpenSSL's reason).
result<step> plan(const std::optional<tls_state>& secret,
                  const std::vector<std::vector<std::string>>& observed,
                  const std::optional<tls_state>& remembered, wall::time_point now,
                  const settings& s);

// The canonical, sorted CA set of a PEM bundle (what controller::cert::decode_webhook_configuration
// yields per entry).
std::vector<std::string> bundle_set(std::string_view pem);

// RFC 3339 UTC with seconds, "2026-11-30T11:00:00Z", and back.
std::string format_time(wall::time_point t);
std::optional<wall::time_point> parse_time(std::string_view text);

}  // namespace mlnetpol::certs::rotation
