#pragma once
// Bounded JSON reading for API-server answers: RapidJSON's iterative parser (no recursion on the
// input's depth) with a nesting limit, into a pool-allocated Document whose destructor does not
// recurse either. Internal to k8s/.
#include <cstddef>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "common/result.hpp"

namespace mlnetpol::k8s::json {

// Kubernetes objects nest about 20 deep (managedFields included); 128 bounds the walk.
inline constexpr unsigned max_depth = 128;

// Parses the whole of text (nothing but whitespace may follow the value); valid UTF-8 only.
result<void> parse(rapidjson::Document& document, std::string_view text);

// The member key of an object value, or nullptr when value is no object or lacks key.
const rapidjson::Value* member(const rapidjson::Value& value, std::string_view key);
// The string member key, "" when absent or not a string.
std::string_view string_member(const rapidjson::Value& value, std::string_view key);
// The object member key, or nullptr when absent or not an object.
const rapidjson::Value* object_member(const rapidjson::Value& value, std::string_view key);

}  // namespace mlnetpol::k8s::json
