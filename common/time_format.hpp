#pragma once
// Wall-clock times as text: RFC 3339 in UTC, the one formatter (Kubernetes Time and MicroTime,
// certificate annotations, /status).
#include <chrono>
#include <string>

namespace mlnetpol {

// "2026-11-30T11:00:00Z" (whole seconds, truncated).
std::string format_rfc3339(std::chrono::system_clock::time_point time);

// "2026-11-30T11:00:00.001500Z": six fractional digits, a Kubernetes MicroTime.
std::string format_rfc3339_micro(std::chrono::system_clock::time_point time);

}  // namespace mlnetpol
