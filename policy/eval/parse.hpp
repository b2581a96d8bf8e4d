#pragma once
// Kubernetes objects (JSON values, as the API server or `kubectl get -o json` gives them) into the
// evaluator's model. Namespaces, Pods, NetworkPolicies, CiliumNetworkPolicies and
// CiliumClusterwideNetworkPolicies are read; every other kind is ignored.
#include <string>

#include <rapidjson/document.h>

#include "common/result.hpp"
#include "policy/eval/model.hpp"

namespace mlnetpol::policy::eval {

// Adds the object to the cluster when it is one of the kinds above; the error names `source` and
// the field that is malformed (a bad CIDR, a port that is neither a number nor a name, ...).
// Returns whether the object was taken.
result<bool> add_object(cluster& c, const rapidjson::Value& object, const std::string& source);

// A label list "key=value,key2=value2" (the --from-labels form after "NS:"); error on an empty key.
result<label_map> parse_label_list(std::string_view text);

}  // namespace mlnetpol::policy::eval
