#pragma once
// The webhook configurations mlnetpol ships (manifests/base/webhooks.yaml, built into the binary:
// a copy read from the cluster could already be tampered with), rendered for this install. The
// leader keeps the cluster's two configurations equal to them (controller/webhook_config.hpp).
#include <string_view>

#include "common/result.hpp"
#include "controller/webhook_config.hpp"

namespace mlnetpol::app {

// manifests/base/webhooks.yaml as it was when the binary was built.
std::string_view shipped_webhooks_yaml();

// Both configurations' webhooks rendered with options; an error names what the manifest lacks.
result<controller::webhooks::desired> shipped_webhooks(
    const controller::webhooks::render_options& options);

}  // namespace mlnetpol::app
