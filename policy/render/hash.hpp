#pragma once
// FNV-1a 64: a stable, dependency-free hash for the spec-hash annotation (not for security: it only
// tells a reconciler whether a rendered spec changed).
#include <cstdint>
#include <string>
#include <string_view>

namespace mlnetpol::policy::render {

std::uint64_t fnv1a_64(std::string_view data);
std::string spec_hash(std::string_view spec_json);  // 16 lowercase hex digits of fnv1a_64

}  // namespace mlnetpol::policy::render
