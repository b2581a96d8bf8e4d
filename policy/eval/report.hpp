#pragma once
// An answer for people (text) and for programs (JSON), and the smallest change that would allow a
// denied connection: a setting of mlnetpol's configuration when one covers it, else a policy of
// the tenant's own, printed as YAML.
#include <string>
#include <vector>

#include "policy/config.hpp"
#include "policy/eval/evaluate.hpp"

namespace mlnetpol::policy::eval {

std::string connection_text(const query& q);  // "x/a -> y/b TCP/80"

// The verdict, then per direction what decides it.
std::string answer_text(const query& q, const answer& a);
// {"allowed": bool, "egress": {"isolated", "allowed", "policies": [...]}, "ingress": {...}}
std::string answer_json(const answer& a);

struct fix {
  std::string what;  // one line: "add ... to inference_allowed_services", "apply this policy"
  std::string yaml;  // a configuration fragment or a policy; may be empty
};
// Empty when the connection is allowed. cfg (may be null) is the configuration mlnetpol renders
// from, whose settings are preferred over new policies.
std::vector<fix> suggest_fixes(const query& q, const answer& a, const config* cfg);
std::string fixes_text(const std::vector<fix>& fixes);

}  // namespace mlnetpol::policy::eval
