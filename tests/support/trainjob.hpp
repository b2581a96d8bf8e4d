#pragma once
// Kubeflow Trainer v2 TrainJobs for tests: no pod template; spec.labels are the labels of the
// JobSet and Jobs it creates, the site mlnetpol judges (policy/kinds.cpp).
#include <string>

#include <nlohmann/json.hpp>

namespace mlnetpol::testing {

// A TrainJob manifest (YAML); spec_extra: more members of spec, each line indented two spaces.
inline std::string trainjob_yaml(const std::string& ns, const std::string& name,
                                 const std::string& spec_extra = "") {
  return "apiVersion: trainer.kubeflow.org/v1alpha1\nkind: TrainJob\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  runtimeRef: {name: torch-distributed}\n" + spec_extra;
}

// A captured AdmissionReview (tests/fixtures/admission) made a TrainJob CREATE of `object` in ns:
// the kind, resource, name and namespace of the request follow the object.
inline nlohmann::json as_trainjob_review(nlohmann::json review, const std::string& ns,
                                         const nlohmann::json& object) {
  nlohmann::json& request = review["request"];
  for (const char* k : {"kind", "requestKind"})
    request[k] = {{"group", "trainer.kubeflow.org"}, {"version", "v1alpha1"}, {"kind", "TrainJob"}};
  for (const char* k : {"resource", "requestResource"})
    request[k] = {
        {"group", "trainer.kubeflow.org"}, {"version", "v1alpha1"}, {"resource", "trainjobs"}};
  request["name"] = object["metadata"]["name"];
  request["namespace"] = ns;
  request["object"] = object;
  request["object"]["metadata"]["namespace"] = ns;
  return review;
}

}  // namespace mlnetpol::testing
