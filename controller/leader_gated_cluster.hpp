#pragma once
// The cluster a leader writes through: writes pass only while this replica is the leader (a write
// after the lease is lost fails as a transport error, "no longer the leader"); reads, watches and
// the election's own Lease calls always pass.
#include <functional>
#include <memory>

#include "controller/cluster.hpp"

namespace mlnetpol::controller {

std::unique_ptr<cluster> leader_gated(cluster& api, std::function<bool()> leader);

}  // namespace mlnetpol::controller
