#pragma once
// The scheduling gate (issue 23): a Pod created in a secured namespace before the namespace's
// policy set is stored waits, gated, until the leader has stored it. The decisions are pure: the
// namespace's recorded set comes from the controller's cache, the expected one from its renders.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "policy/config.hpp"

namespace mlnetpol::policy {

// What a replica knows of a namespace's policy set: the hash the leader recorded on the Namespace
// (the policy-set annotation, "" when absent or the namespace is unknown) and the hash of the set
// this replica renders for it ("" when it renders none).
struct policy_set_state {
  std::string recorded;
  std::string expected;
  bool in_place() const { return !expected.empty() && recorded == expected; }
};

// Whether a Pod request gets the gate: a CREATE (the API server refuses new gates on UPDATE) in a
// secured namespace, in a mode that applies policies, whose recorded set is not the expected one.
// state null: no controller on this replica (offline review, admission-only), so nobody would
// release the gate: none is added.
bool needs_scheduling_gate(std::string_view operation, bool secured, enforcement_mode mode,
                           const policy_set_state* state);

// The index of mlnetpol's gate in spec.schedulingGates; nullopt when it is not there (or the list
// is malformed). A gate repeated counts at its first place (the API server refuses duplicates).
std::optional<std::size_t> policy_set_gate_index(const rapidjson::Value* spec);

// The RFC 6902 patch that releases a gated pod in one request: a `test` of mlnetpol's gate at its
// index, its removal, and the removal of the gated label (tested too), so a concurrent change of
// the list fails the patch instead of removing another controller's gate. Only the label when the
// gate is gone already. spec: the pod's spec.
std::string gate_release_patch(const rapidjson::Value* spec);

// What a Pod UPDATE changes of the gate or its label ("removes the scheduling gate
// mlnetpol.io/policy-set", "adds label mlnetpol.io/gated"); empty when neither changes. Only
// mlnetpol (or an admin) may: a tenant removing the gate would start its pod unprotected.
std::vector<std::string> gate_changes(const rapidjson::Value* old_object,
                                      const rapidjson::Value* object);

}  // namespace mlnetpol::policy
