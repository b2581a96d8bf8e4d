#pragma once
// RFC 6902 JSON Patch documents, built compactly, and the patch that applies a list of label /
// annotation entries to an admitted object. A patch that does not apply makes the API server reject
// the user's request even under failurePolicy Ignore, so patches are computed against the original.
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "common/result.hpp"
#include "policy/mutation.hpp"

namespace mlnetpol::admission {

// Appends "/" and token escaped per RFC 6901 ("~" -> "~0", "/" -> "~1").
void append_pointer_token(std::string& pointer, std::string_view token);
// A JSON Pointer from unescaped tokens: {"metadata", "labels", "a/b"} -> "/metadata/labels/a~1b".
std::string json_pointer(std::initializer_list<std::string_view> tokens);

class json_patch {
 public:
  // path is an already escaped JSON Pointer (see json_pointer).
  void add(std::string_view path, std::string_view string_value);
  void add(std::string_view path, const rapidjson::Value& value);
  void replace(std::string_view path, std::string_view string_value);
  void replace(std::string_view path, const rapidjson::Value& value);
  void remove(std::string_view path);

  // Room for bytes of operations, so adding them does not grow the text step by step.
  void reserve(std::size_t bytes);
  bool empty() const { return operations_ == 0; }
  std::size_t size() const { return operations_; }
  // The compact JSON array, or "" when no operation was added (no patch).
  std::string str() const;
  // The same, taking the text over instead of copying it.
  std::string take() &&;

 private:
  void begin(std::string_view op, std::string_view path);
  // An op with a "value" member; add and replace differ only in the op name.
  void value_op(std::string_view op, std::string_view path, std::string_view string_value);
  void value_op(std::string_view op, std::string_view path, const rapidjson::Value& value);
  std::string text_;  // "[" and the operations, comma separated, without the closing bracket
  std::size_t operations_ = 0;
};

// The patch that sets every entry in the object (later entries win for the same key). The first
// missing (or null) step of a path gets one "add" of the whole nested object, shared by all
// entries under it; an existing map gets per-key "add"; a different value "replace"; the same
// value nothing. "" when nothing changes. An error when the object, or a step of a path in it, is
// not a JSON object, or when entries need one path to be both a value and a map.
result<std::string> patch_for_entries(const rapidjson::Value& object,
                                      std::span<const policy::map_entry> entries);

// patch_for_entries, then, when scheduling_gate is not "", {name: scheduling_gate} appended to
// spec.schedulingGates after the gates already there ("add" of the whole list when it is absent or
// null). An error also when spec, or a schedulingGates that is there, has the wrong type.
result<std::string> patch_for_mutation(const rapidjson::Value& object,
                                       std::span<const policy::map_entry> entries,
                                       std::string_view scheduling_gate);

// Applies an RFC 6902 patch of add, replace, remove and test operations (those the webhooks and
// the controllers write) to document, in order, parsing the patch with the bounded parser; an error
// names the first operation that does not apply (a path that does not resolve, a failed test,
// another op, malformed JSON). On error the document may be partly patched. The one applier:
// `review`, the tests and the fuzz targets all run it.
result<void> apply_patch(rapidjson::Document& document, std::string_view patch);
// The same on a value inside a document (e.g. an AdmissionReview's request.object), whose
// allocator new values come from.
result<void> apply_patch(rapidjson::Value& target, std::string_view patch,
                         rapidjson::Document::AllocatorType& alloc);

}  // namespace mlnetpol::admission
