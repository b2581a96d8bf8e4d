#pragma once
// What goes over the wire besides single objects: list pages and Lease bodies. Internal to k8s/.
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "k8s/client.hpp"

namespace mlnetpol::k8s::wire {

// A List answer; items without apiVersion/kind (built-in lists omit them) get the resource's.
result<list_page> decode_list(const resource& r, std::string_view json);

result<lease_record> decode_lease(std::string_view json);
// An APIResourceList discovery document (GET /apis/<group>/<version>): its resources[].name
// (sub-resources such as "pods/status" included), in its order.
result<std::vector<std::string>> decode_resource_names(std::string_view json);
// The Lease object for POST/PUT; metadata.resourceVersion only when the record has one.
std::string encode_lease(const lease_record& lease);

// Percent-encodes everything but RFC 3986 unreserved characters (query values, path segments).
std::string url_encode(std::string_view text);

}  // namespace mlnetpol::k8s::wire
