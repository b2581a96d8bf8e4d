#pragma once
// JSON of API-server answers: the bounded parser (common/json_parse.hpp) at the depth Kubernetes
// objects need, and the member accessors of common/json.hpp.
#include <string_view>

#include <rapidjson/document.h>

#include "common/json.hpp"
#include "common/json_parse.hpp"

namespace mlnetpol::k8s::json {

// Kubernetes objects nest about 20 deep (managedFields included); 128 bounds the walk.
inline constexpr unsigned max_depth = 128;

// An API-server answer: the whole of text, one value, valid UTF-8, at most max_depth deep.
inline result<void> parse(rapidjson::Document& document, std::string_view text) {
  return mlnetpol::json::parse(document, text, {.max_depth = max_depth});
}

using mlnetpol::json::member;
using mlnetpol::json::object_member;
using mlnetpol::json::string_member;

}  // namespace mlnetpol::k8s::json
