#pragma once
// The one way a rendered object is put together: apiVersion, kind, metadata with mlnetpol's labels
// and the spec-hash annotation, and the spec. Internal to policy/render.
#include <string_view>

#include "policy/render/render.hpp"

namespace mlnetpol::policy::render {

// spec: compact JSON of an object; namespace_name "" for a cluster-scoped object.
rendered_object make_object(std::string_view api_version, std::string_view kind,
                            std::string_view namespace_name, std::string_view name,
                            std::string_view spec);

}  // namespace mlnetpol::policy::render
