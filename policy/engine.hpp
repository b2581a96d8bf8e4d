#pragma once
// The label engine: request facts and configuration in, a decision out. No I/O, clock or logging.
// mutate() answers /mutate (labels to add), validate() answers /validate (violations); both apply
// the enforcement mode, so the admission layer only encodes what they return.
#include <map>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "policy/config.hpp"
#include "policy/decision.hpp"
#include "policy/scheduling_gate.hpp"
#include "policy/string_list.hpp"

namespace mlnetpol::policy {

struct request_facts {
  std::string_view group;  // "" for core kinds (Pod, Namespace)
  std::string_view kind;   // request.kind.kind
  std::string_view sub_resource;
  std::string_view operation;  // CREATE | UPDATE | DELETE | CONNECT
  std::string_view namespace_name;
  std::string_view name;
  std::string_view username;
  string_list groups;
  bool dry_run = false;  // never changes the answer (the API server relies on that)
  const rapidjson::Value* object = nullptr;
  const rapidjson::Value* old_object = nullptr;
  // Labels of the request's namespace when known (for the mlnetpol.io/enforcement override).
  const std::map<std::string, std::string>* namespace_labels = nullptr;
  // The namespace's policy set as the controller's cache and renders know it; null without a
  // controller (then no scheduling gate is added: nobody would release it).
  const policy_set_state* policy_set = nullptr;
};

decision mutate(const request_facts& request, const config& cfg);
decision validate(const request_facts& request, const config& cfg);

// enforcement_mode overridden by a valid mlnetpol.io/enforcement label; an invalid value keeps the
// global mode and sets *problem to a warning naming it.
enforcement_mode effective_mode(const config& cfg,
                                const std::map<std::string, std::string>* namespace_labels,
                                std::string_view namespace_name, std::string* problem);

}  // namespace mlnetpol::policy
