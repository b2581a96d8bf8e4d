#pragma once
// Whether a live object's spec is the rendered one: compared as values, not as annotations (a
// spec-hash can be forged) and not as text (the API server reorders keys and adds defaults). Pure.
#include <string_view>

#include "policy/render/render.hpp"

namespace mlnetpol::policy {

// True when live_spec (the JSON text of the object's spec as the API server returns it) means the
// same as the rendered object's spec: object key order is ignored, members that are null, [] or {}
// count as absent, and a NetworkPolicy's defaults (a port's protocol TCP, policyTypes from the
// rules) are filled in on both sides. Anything unreadable or nested deeper than the renderer ever
// writes is "not the same", so it is repaired rather than trusted.
bool same_spec(const rendered_object& desired, std::string_view live_spec);

}  // namespace mlnetpol::policy
