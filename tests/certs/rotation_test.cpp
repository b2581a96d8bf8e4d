// The rotation protocol with a fake clock: phases, the order of Secret and caBundle writes, and the
// two safety rules checked at every write over several CA lifetimes — a serving certificate enters
// the Secret only after its CA sat in every caBundle for the propagation wait, and a CA leaves
// caBundle only after every serving certificate it signed has expired.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "certs/rotation.hpp"

namespace cert = mlnetpol::certs::rotation;
namespace certs = mlnetpol::certs;
using namespace std::chrono_literals;
using wall = cert::wall;

namespace {

cert::settings short_settings() {
  cert::settings s;
  s.names.extra_ips = {"127.0.0.1"};
  s.ca_lifetime = 90s;
  s.serving_lifetime = 30s;
  s.propagation = 5s;
  s.clock_margin = 2s;
  return s;
}

std::string issuer_of(const std::string& serving, const std::vector<std::string>& cas) {
  for (const auto& ca : cas) {
    if (certs::signed_by(serving, ca)) return ca;
  }
  return {};
}

// The API server as the leader sees it: one Secret, four webhook entries (2 mutating, 2
// validating), and the safety bookkeeping.
struct world {
  cert::settings s = short_settings();
  wall::time_point now = wall::now();
  std::optional<cert::tls_state> secret;
  std::optional<cert::tls_state> memory;
  std::vector<std::vector<std::string>> bundles = std::vector<std::vector<std::string>>(4);
  std::map<std::string, wall::time_point> in_all_since;  // CA -> every entry holds it since
  std::map<std::string, std::string> issued;             // serving cert -> its CA
  std::vector<std::string> journal;                      // "secret:<event>" / "bundle"
  std::set<std::string> ever_trusted;

  void note_bundles() {
    std::set<std::string> all;
    for (const auto& b : bundles) all.insert(b.begin(), b.end());
    for (const auto& ca : all) {
      const bool everywhere = std::all_of(bundles.begin(), bundles.end(), [&](const auto& b) {
        return std::find(b.begin(), b.end(), ca) != b.end();
      });
      if (everywhere && !in_all_since.count(ca)) in_all_since[ca] = now;
      if (!everywhere) in_all_since.erase(ca);
    }
    for (auto it = in_all_since.begin(); it != in_all_since.end();) {
      it = all.count(it->first) ? std::next(it) : in_all_since.erase(it);
    }
  }

  // Applies one step and checks the rules; false when idle.
  bool act() {
    const auto planned = cert::plan(secret, bundles, memory, now, s);
    REQUIRE_MESSAGE(planned.has_value(), planned.error().message);
    const cert::step& st = *planned;
    switch (st.what) {
      case cert::action::idle:
        CHECK(st.wake > now);
        return false;
      case cert::action::create_secret:
        REQUIRE_FALSE(secret.has_value());
        [[fallthrough]];
      case cert::action::update_secret: {
        if (st.state.serving &&
            (!secret || !secret->serving || !(*secret->serving == *st.state.serving))) {
          const std::string leaf = st.state.serving->cert_pem;
          const std::string ca = issuer_of(leaf, st.state.trusted());
          REQUIRE_MESSAGE(!ca.empty(), "serving certificate not signed by a trusted CA");
          REQUIRE_MESSAGE(in_all_since.count(ca),
                          "serving certificate whose CA is not in every caBundle");
          // A CA's first serving certificate waits for the propagation (renewals under a CA
          // already served need not).
          const bool new_ca =
              !secret || !secret->serving || issued[secret->serving->cert_pem] != ca;
          if (new_ca) {
            CHECK_MESSAGE(in_all_since[ca] + s.propagation <= now,
                          "serving certificate issued before its CA's propagation wait");
          }
          issued[leaf] = ca;
        }
        secret = st.state;
        memory = st.state;
        journal.push_back("secret:" + std::string(cert::to_string(st.why)));
        return true;
      }
      case cert::action::patch_bundles: {
        const auto want = cert::bundle_set(st.bundle);
        REQUIRE(secret.has_value());
        CHECK(want == secret->trusted());
        for (const auto& b : bundles) {
          for (const auto& ca : b) {
            if (std::find(want.begin(), want.end(), ca) != want.end()) continue;
            for (const auto& [leaf, issuer] : issued) {
              if (issuer != ca) continue;
              const auto info = certs::inspect(leaf);
              REQUIRE(info.has_value());
              CHECK_MESSAGE(info->not_after + s.clock_margin <= now,
                            "a CA left caBundle while a serving certificate it signed was valid");
            }
          }
        }
        for (auto& b : bundles) b = want;
        ever_trusted.insert(want.begin(), want.end());
        note_bundles();
        journal.push_back("bundle");
        return true;
      }
    }
    return false;
  }

  void settle() {
    for (int i = 0; i < 20 && act(); ++i) {
    }
    CHECK_FALSE(act());
  }

  // The serving certificate in the Secret is valid now and trusted by every entry.
  void check_serving() {
    if (!secret || !secret->serving) return;
    const auto info = certs::inspect(secret->serving->cert_pem);
    REQUIRE(info.has_value());
    CHECK(info->not_after > now);
    const std::string ca = issued[secret->serving->cert_pem];
    for (const auto& b : bundles) CHECK(std::find(b.begin(), b.end(), ca) != b.end());
  }

  void run_for(std::chrono::seconds d) {
    const auto end = now + d;
    while (now < end) {
      settle();
      check_serving();
      now += 1s;
    }
  }

  std::size_t count(std::string_view entry) const {
    return static_cast<std::size_t>(std::count(journal.begin(), journal.end(), entry));
  }
};

}  // namespace

TEST_CASE("fresh install: CA staged, caBundle, propagation wait, then the serving certificate") {
  world w;
  CHECK(cert::check_settings(w.s).empty());
  w.settle();
  // No serving certificate before the CA has been in every caBundle for the propagation wait.
  CHECK(w.journal == std::vector<std::string>{"secret:initial_ca", "bundle", "secret:ca_trusted"});
  REQUIRE(w.secret.has_value());
  CHECK_FALSE(w.secret->serving.has_value());
  CHECK(w.secret->next.has_value());
  w.now += 5s;  // the wait starts at the next whole second: never shorter than 5 s
  w.settle();
  CHECK_FALSE(w.secret->serving.has_value());
  w.now += 1s;
  w.settle();
  CHECK(w.journal.back() == "secret:ca_switched");
  REQUIRE(w.secret->serving.has_value());
  CHECK(w.secret->signing.has_value());
  CHECK_FALSE(w.secret->next.has_value());
  const auto info = certs::inspect(w.secret->serving->cert_pem);
  REQUIRE(info.has_value());
  CHECK(std::find(info->ip_addresses.begin(), info->ip_addresses.end(), "127.0.0.1") !=
        info->ip_addresses.end());
  CHECK(std::find(info->dns_names.begin(), info->dns_names.end(), "mlnetpol.mlnetpol-system.svc") !=
        info->dns_names.end());
}

TEST_CASE("several CA lifetimes: renewals at two thirds, rotations in order, rules hold") {
  world w;
  w.run_for(400s);
  // CA of 90 s renewed at 60 s: about six rotations in 400 s; serving of 30 s renewed at 20 s.
  CHECK(w.count("secret:ca_staged") >= 5);
  CHECK(w.count("secret:ca_switched") >= 6);
  CHECK(w.count("secret:ca_retired") >= 5);
  CHECK(w.count("secret:serving_renewed") >= 5);
  // The order of one rotation: stage (Secret), caBundle, trusted (Secret), switch (Secret) ...,
  // retire (Secret), caBundle.
  const auto staged = std::find(w.journal.begin(), w.journal.end(), "secret:ca_staged");
  REQUIRE(staged != w.journal.end());
  REQUIRE(std::distance(staged, w.journal.end()) > 4);
  CHECK(*(staged + 1) == "bundle");
  CHECK(*(staged + 2) == "secret:ca_trusted");
  const auto switched = std::find(staged, w.journal.end(), "secret:ca_switched");
  const auto retired = std::find(staged, w.journal.end(), "secret:ca_retired");
  REQUIRE(retired != w.journal.end());
  CHECK(switched < retired);
  CHECK(*(retired + 1) == "bundle");
  // At most two CAs are ever trusted at once.
  for (const auto& b : w.bundles) CHECK(b.size() <= 2);
}

TEST_CASE("caBundle edited by someone else: set back; a staged CA waits again") {
  world w;
  w.run_for(20s);
  REQUIRE(w.secret->serving.has_value());
  w.bundles[2].clear();
  w.note_bundles();
  auto st = cert::plan(w.secret, w.bundles, w.memory, w.now, w.s).value();
  CHECK(st.what == cert::action::patch_bundles);
  CHECK(st.why == cert::event::bundle_repaired);
  CHECK(cert::bundle_set(st.bundle) == w.secret->trusted());
  w.settle();

  // Until the CA is staged (60 s into its life), then drop it from one entry.
  for (int i = 0; i < 90 && !w.secret->next_trusted_since; ++i) {
    w.now += 1s;
    w.settle();
  }
  REQUIRE(w.secret->next.has_value());
  REQUIRE(w.secret->next_trusted_since.has_value());
  const std::string staged = cert::bundle_set(w.secret->next->cert_pem).front();
  std::erase(w.bundles[0], staged);
  w.note_bundles();
  w.journal.clear();
  w.settle();
  CHECK(w.journal ==
        std::vector<std::string>{"secret:ca_untrusted", "bundle", "secret:ca_trusted"});
  w.run_for(50s);  // the rules are checked at every write
  CHECK(w.count("secret:ca_switched") == 1);
}

TEST_CASE("Secret deleted: written back from memory; without memory every trusted CA stays") {
  world w;
  w.run_for(25s);
  REQUIRE(w.secret->serving.has_value());
  const cert::tls_state before = *w.secret;
  w.secret.reset();
  auto st = cert::plan(w.secret, w.bundles, w.memory, w.now, w.s).value();
  CHECK(st.what == cert::action::create_secret);
  CHECK(st.why == cert::event::secret_recreated);
  CHECK(st.state == before);

  // A new leader that never saw it: a new CA is staged, the CAs in caBundle stay trusted until
  // any serving certificate they signed has expired, and the rules hold throughout.
  w.memory.reset();
  w.journal.clear();
  w.settle();
  REQUIRE(w.secret.has_value());
  CHECK(w.journal.front() == "secret:secret_recreated");
  CHECK_FALSE(w.secret->serving.has_value());  // replicas keep serving the pair they have
  CHECK(w.secret->retiring == before.trusted());
  w.run_for(120s);
  CHECK(w.count("secret:ca_retired") >= 1);
}

TEST_CASE("a Secret made elsewhere (cert-manager's: no CA key) is taken over without a gap") {
  world w;
  w.run_for(25s);
  cert::tls_state foreign;
  foreign.serving = w.secret->serving;
  foreign.retiring = w.secret->trusted();
  w.secret = foreign;
  w.memory.reset();
  w.journal.clear();
  w.run_for(100s);
  CHECK(w.journal.front() == "secret:initial_ca");
  CHECK(w.count("secret:ca_switched") >= 1);
}

TEST_CASE("settings: lifetimes that cannot rotate safely are refused") {
  cert::settings s = short_settings();
  CHECK(cert::check_settings(s).empty());
  s.ca_lifetime = 60s;  // < 3 x 30 s
  CHECK_FALSE(cert::check_settings(s).empty());
  s = short_settings();
  s.propagation = 10s;  // > 30 s / 6
  CHECK_FALSE(cert::check_settings(s).empty());
  s = short_settings();
  s.names.service = "Not A Label";
  CHECK_FALSE(cert::check_settings(s).empty());
  CHECK(cert::check_settings(cert::settings{}).empty());  // the defaults: 365 d, 90 d, 60 s
}

TEST_CASE("times: RFC 3339 round trip; garbage is nullopt") {
  const auto t = wall::from_time_t(1'800'000'000);
  CHECK(cert::format_time(t) == "2027-01-15T08:00:00Z");
  CHECK(cert::parse_time("2027-01-15T08:00:00Z") == t);
  CHECK_FALSE(cert::parse_time("2027-01-15 08:00:00").has_value());
  CHECK_FALSE(cert::parse_time("").has_value());
}
