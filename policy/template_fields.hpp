#pragma once
// What makes a workload UPDATE write a pod template: a change of one of these fields, the ones a
// decision at a template reads (labels: workload-type and inference; annotations: the inference
// source; hostNetwork). Other changes (an image, a replica count, a finalizer) leave a workload
// that predates mlnetpol as it is; its new pods are judged when they are created. One list for
// the engine (written_sites, policy/engine.cpp) and the admission policies' CEL
// (templates_expression, policy/render/admission_policies.cpp); the webhook's decoder keeps every
// one of them (admission/review_document.cpp).
#include <array>
#include <string_view>

namespace mlnetpol::policy {

struct template_field {
  std::string_view parent;  // "metadata" or "spec" of the template
  std::string_view name;
};

inline constexpr std::array<template_field, 3> written_template_fields{{
    {"metadata", "labels"},
    {"metadata", "annotations"},
    {"spec", "hostNetwork"},
}};

}  // namespace mlnetpol::policy
