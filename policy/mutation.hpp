#pragma once
// A mutation as data: entries to set in a metadata map of the admitted object. The admission layer
// turns a list of these into an RFC 6902 JSON Patch against the original object.
#include <string>

#include <boost/container/small_vector.hpp>

namespace mlnetpol::policy {

// Keys from an object's root to one of its objects. A pod template's path is two to five short
// keys ("spec", "template", "metadata"; a replica type's name): they stay inline, so copying a
// path allocates nothing.
using path_steps = boost::container::small_vector<std::string, 5>;

struct map_entry {
  // Keys from the object's root to the object that holds the map, e.g. {"metadata"} or
  // {"spec", "template", "metadata"}. Any missing step is created by the patch.
  path_steps metadata_path;
  std::string map_name;  // "labels" or "annotations"
  std::string key;
  std::string value;
  friend bool operator==(const map_entry&, const map_entry&) = default;
};

}  // namespace mlnetpol::policy
