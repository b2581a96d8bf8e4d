#pragma once
// `--cert-management=self`: every replica watches the Secret mlnetpol-tls and serves the pair it
// holds (never anything else: no Secret, no serving certificate, not ready); the Lease holder runs
// the rotation protocol of certs/rotation.hpp against the API server — creates and rotates the
// Secret, and keeps the caBundle of both webhook configurations equal to the CAs in use,
// repairing edits and a deleted Secret within check_interval — and keeps the rest of both
// configurations as shipped (webhook_config.hpp). Only the leader keeps the CA keys in memory.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "certs/rotation.hpp"
#include "controller/cert_codec.hpp"
#include "controller/cluster.hpp"
#include "controller/informer.hpp"
#include "controller/leader_election.hpp"
#include "controller/webhook_config.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::controller {

struct cert_manager_options {
  certs::rotation::settings rotation;
  std::string secret_namespace = "mlnetpol-system";
  std::string secret_name = "mlnetpol-tls";
  std::string mutating_webhook = "mlnetpol";
  std::string validating_webhook = "mlnetpol";
  // The two configurations as mlnetpol ships them; the leader sets back any other difference.
  webhooks::desired shipped;
  // The leader re-reads the Secret and both caBundles at least this often (repairs within it).
  std::chrono::milliseconds check_interval{5'000};
  std::string identity;  // this replica, for the metrics' label
  // Used when no reconciler elects a leader (--reconcile=false): the same Lease, its own loop.
  leader_election_options election;
};

// Puts a pair in force (the server's certificate store); returns "" or why it was rejected.
using pair_sink = std::function<std::string(const certs::key_pair&)>;

class cert_manager {
 public:
  // is_leader: the reconciler's leadership; empty to run an own election on options.election.
  cert_manager(k8s::rest_config rest, cert_manager_options options, pair_sink sink,
               std::function<bool()> is_leader);
  ~cert_manager();
  cert_manager(const cert_manager&) = delete;
  cert_manager& operator=(const cert_manager&) = delete;

  void start();
  void stop();  // idempotent; an own lease is released

  // "" once a serving pair from the Secret is in force; else why not (readyz).
  std::string not_ready() const;
  std::string metrics_text() const;
  bool leader() const;

 private:
  // An informer of one object by name; on_change runs for every list and every event.
  std::unique_ptr<informer> watch_object(const k8s::resource& r, const std::string& ns,
                                         const std::string& name, std::function<void()> on_change);
  // The leader: sets a configuration back to what mlnetpol ships; true when it wrote.
  bool repair_configuration(const k8s::resource& r, const std::string& name, const std::string& raw,
                            const std::string& desired,
                            const std::optional<certs::rotation::tls_state>& secret);
  void leader_loop();
  void refresh_from_secret();
  bool leader_pass();  // one plan/act step; true when it wrote something

  // What one leader pass read: the Secret and both webhook configurations.
  struct configuration {
    const k8s::resource* r = nullptr;
    const std::string* name = nullptr;
    const std::string* shipped = nullptr;
    std::string raw;
    cert::webhook_view view;
  };
  struct pass_view {
    std::optional<certs::rotation::tls_state> secret;  // nullopt: there is none
    std::string secret_version;
    configuration configs[2];  // mutating, validating
    std::vector<std::vector<std::string>> bundles() const;  // every entry's CA set
  };
  enum class read_outcome { read, repaired, failed };
  // The steps of a pass; each write step is true when it wrote, false (logged) when it failed.
  bool read_secret(pass_view& seen);
  read_outcome read_configurations(pass_view& seen);
  void settle(const certs::rotation::step& step, const pass_view& seen);  // idle: nothing to write
  bool create_secret(const certs::rotation::step& step, bool from_memory);
  bool update_secret(const certs::rotation::step& step, const std::string& secret_version);
  bool patch_bundles(const certs::rotation::step& step, const pass_view& seen);
  bool pass_failed(std::string_view what, const k8s::api_error& e);  // logs once; false
  void wake_leader();
  bool sleep_for(std::chrono::milliseconds d);  // false when stopping

  cert_manager_options options_;
  pair_sink sink_;
  std::function<bool()> is_leader_;
  std::unique_ptr<k8s::client> client_;
  std::unique_ptr<cluster> election_api_;
  std::unique_ptr<leader_election_loop> election_;  // null when is_leader_ is given

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;
  std::optional<certs::rotation::tls_state> remembered_;  // last Secret state seen or written
  std::optional<certs::key_pair> serving_;     // the pair in force
  std::string serving_serial_;
  double serving_not_after_ = 0;
  double ca_not_after_ = 0;
  std::string last_error_;
  std::vector<std::string> last_good_bundle_;       // what caBundle held when it last matched
  std::optional<certs::rotation::wall::time_point> next_due_;  // leader thread only
  std::string last_pass_error_;                     // leader thread only
  std::string last_repair_error_;                   // leader thread only

  std::atomic<std::uint64_t> serving_rotations_{0};
  std::atomic<std::uint64_t> ca_rotations_{0};
  std::atomic<std::uint64_t> bundle_repairs_{0};
  std::atomic<std::uint64_t> bundle_updates_{0};
  std::atomic<std::uint64_t> configuration_repairs_{0};
  std::atomic<std::uint64_t> secret_recreations_{0};
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> errors_{0};

  std::vector<std::unique_ptr<informer>> watches_;  // the Secret, then the configurations
  std::thread leader_thread_;
  bool started_ = false;
};

}  // namespace mlnetpol::controller
