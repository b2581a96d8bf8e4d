#pragma once
// Kubernetes manifests as `kubectl apply -f` reads them: YAML or JSON, several documents per file
// (`---`), v1 Lists expanded, directories walked, `-` for stdin. For `mlnetpol review`.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "common/result.hpp"

namespace mlnetpol::app {

struct manifest_object {
  std::string source;  // "dir/app.yaml#2" (document 2 of the file), "stdin#1", "x.json#1.items[3]"
  std::shared_ptr<const rapidjson::Document> document;  // its file's documents: keeps *object alive
  const rapidjson::Value* object = nullptr;             // a JSON object with apiVersion and kind
};

// Every document of text as JSON, in one array (null for empty documents): one allocator for the
// file, not a 64 KiB pool per document. YAML scalars are typed as YAML 1.2's core schema types
// them; quoted scalars stay strings. The error names source and line.
result<rapidjson::Document> parse_documents(std::string_view text, const std::string& source);

// The objects of one file's text; empty documents are skipped, `kind: List` (and *List) items are
// expanded. An error names the document that is not a Kubernetes object.
result<std::vector<manifest_object>> manifest_objects(std::string_view text,
                                                      const std::string& source);

// The files behind the inputs: a file as is, a directory's *.yaml, *.yml and *.json files
// (recursively, sorted by path), "-" kept for stdin.
result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs);

// The whole input: a file's bytes, or stdin for "-"; the error names the file.
result<std::string> read_input(const std::string& input);

}  // namespace mlnetpol::app
