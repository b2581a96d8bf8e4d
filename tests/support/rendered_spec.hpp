#pragma once
// The spec of a rendered object as compact JSON: what a live object's spec is compared with.
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policy/render/render.hpp"

namespace mlnetpol::testing {

inline std::string rendered_spec(const policy::rendered_object& d) {
  rapidjson::Document doc;
  doc.Parse(d.json.data(), d.json.size());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc["spec"].Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace mlnetpol::testing
