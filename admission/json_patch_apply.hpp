#pragma once
// Applies an RFC 6902 JSON Patch of the operations the label webhook emits (add, replace, remove,
// test) to a document: what `mlnetpol review` uses to show the object as the API server would
// store it, public so tests and fuzz targets reach it.
#include <string_view>

#include <rapidjson/document.h>

#include "common/result.hpp"

namespace mlnetpol::admission {

// Stops at the first operation that cannot apply; target may then hold the earlier operations.
result<void> apply_patch(rapidjson::Value& target, std::string_view patch_text,
                         rapidjson::Document::AllocatorType& alloc);

}  // namespace mlnetpol::admission
