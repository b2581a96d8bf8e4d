#pragma once
// Cilium's toFQDNs semantics, so tests and config checks agree with what the agent enforces:
// matchName is an exact (case-insensitive) name; in matchPattern `*` matches characters of ONE DNS
// label (never a dot), and a lone `*` matches every name.
#include <string>
#include <string_view>

namespace mlnetpol::policy {

// True when the entry is a pattern (has `*`) and so renders as matchPattern; else matchName.
bool is_fqdn_pattern(std::string_view entry);

// Whether `name` is matched by a matchPattern `pattern` (a trailing dot on either is ignored).
bool fqdn_pattern_matches(std::string_view pattern, std::string_view name);

// Whether `name` is matched by the entry as rendered (matchName or matchPattern).
bool fqdn_entry_matches(std::string_view entry, std::string_view name);

// Empty when the entry is a valid matchName/matchPattern for the CiliumNetworkPolicy schema, else
// what is wrong with it.
std::string fqdn_entry_error(std::string_view entry);

}  // namespace mlnetpol::policy
