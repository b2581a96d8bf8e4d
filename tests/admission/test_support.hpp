#pragma once
// Helpers shared by the admission tests: fixture files and an independent JSON view (nlohmann).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <nlohmann/json.hpp>

#include "common/json_writer.hpp"
#include "tests/support/files.hpp"
#include "tests/support/review_fixtures.hpp"

namespace mlnetpol::admission::testing {

inline std::string read_file(const std::filesystem::path& path) {
  return mlnetpol::testing::read_required(path);
}

inline std::string fixture(const std::string& name) {
  return read_file(mlnetpol::testing::admission_fixture_dir() / name);
}

using mlnetpol::testing::review_fixtures;

inline nlohmann::json as_nlohmann(const rapidjson::Value& value) {
  std::string text;
  mlnetpol::json::string_output stream(text);
  mlnetpol::json::string_writer writer(stream);
  value.Accept(writer);
  return nlohmann::json::parse(text);
}

// What the codec keeps of request.object/oldObject (review_document.hpp), rewritten independently.
inline nlohmann::json kept_object(const nlohmann::json& object);

inline nlohmann::json kept_members(const nlohmann::json& value,
                                   std::initializer_list<const char*> names) {
  if (!value.is_object()) return value;
  nlohmann::json out = nlohmann::json::object();
  for (const char* name : names) {
    if (value.contains(name)) out[name] = value[name];
  }
  return out;
}

inline nlohmann::json kept_spec(const nlohmann::json& spec) {
  if (!spec.is_object()) return spec;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, child] : spec.items()) {
    if (key == "hostNetwork" || key == "ingress" || key == "egress" || key == "schedulingGates" ||
        key == "labels" || key == "annotations") {
      out[key] = child;
    } else if (key == "template") {
      out[key] = kept_object(child);
    } else if (key == "jobTemplate") {
      out[key] = child.is_object() && child.contains("spec")
                     ? nlohmann::json{{"spec", kept_spec(child["spec"])}}
                     : (child.is_object() ? nlohmann::json::object() : child);
    } else if (key.size() >= 12 && key.compare(key.size() - 12, 12, "ReplicaSpecs") == 0) {
      nlohmann::json replicas = child.is_object() ? nlohmann::json::object() : child;
      if (child.is_object()) {
        for (const auto& [name, replica] : child.items()) {
          replicas[name] = replica.is_object() && replica.contains("template")
                               ? nlohmann::json{{"template", kept_object(replica["template"])}}
                               : (replica.is_object() ? nlohmann::json::object() : replica);
        }
      }
      out[key] = replicas;
    }
  }
  return out;
}

inline nlohmann::json kept_object(const nlohmann::json& object) {
  if (!object.is_object()) return object;
  nlohmann::json out = kept_members(object, {"apiVersion", "kind"});
  if (object.contains("metadata")) {
    out["metadata"] = kept_members(
        object["metadata"],
        {"name", "generateName", "namespace", "labels", "annotations", "ownerReferences"});
  }
  if (object.contains("spec")) out["spec"] = kept_spec(object["spec"]);
  if (object.contains("specs")) out["specs"] = object["specs"];  // a CiliumNetworkPolicy's rules
  return out;
}

// What the decoder keeps of a whole review (the envelope and the request fields the codec reads,
// with kept_object for request.object and request.oldObject).
inline nlohmann::json kept_review(const nlohmann::json& review) {
  if (!review.is_object()) return review;
  nlohmann::json out = kept_members(review, {"apiVersion", "kind"});
  if (!review.contains("request")) return out;
  const nlohmann::json& request = review["request"];
  if (!request.is_object()) {
    out["request"] = request;
    return out;
  }
  nlohmann::json kept =
      kept_members(request, {"uid", "kind", "resource", "subResource", "operation", "namespace",
                             "name", "userInfo", "dryRun"});
  for (const char* name : {"object", "oldObject"}) {
    if (request.contains(name)) kept[name] = kept_object(request[name]);
  }
  out["request"] = kept;
  return out;
}

}  // namespace mlnetpol::admission::testing
