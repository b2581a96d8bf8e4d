#pragma once
// The request decoder's fast path: simdjson (DOM, fully validating) parses an AdmissionReview body
// and the parts the label engine can read are copied into a small RapidJSON document; the codec's
// field checks then run on that document exactly as on a RapidJSON parse.
#include <cstddef>
#include <memory>
#include <string_view>

#include <rapidjson/document.h>

namespace mlnetpol::admission {

// Bytes a caller may leave readable (and unused) after a body so the parser reads it in place.
inline constexpr std::size_t review_body_padding = 64;

namespace detail {
// simdjson's parser, declared here without its (large) header.
struct parser_holder;
struct parser_holder_deleter {
  void operator()(parser_holder* p) const;
};
}  // namespace detail

// A parsed review: the document, the pool its values live in, and the parser whose string buffer
// its strings point into (not copied). A document is reused only once nobody holds it, so its
// strings stay valid for as long as anyone can read them.
struct review_document {
  review_document();
  std::unique_ptr<detail::parser_holder, detail::parser_holder_deleter> parser;
  // The pool's first chunk, in the same allocation: a typical review's kept parts fit in it.
  alignas(16) char first_chunk[8 * 1024];
  rapidjson::MemoryPoolAllocator<> pool;
  rapidjson::Document document;  // declared last: destroyed before the pool and the parser
};

// Parses body (bounded by default_max_json_depth, UTF-8 checked) and keeps only what a decision
// reads: apiVersion, kind and the request fields the codec models; of request.object/oldObject the
// apiVersion, kind, metadata's name, generateName, namespace, labels, annotations and
// ownerReferences, spec.hostNetwork, spec.schedulingGates, spec.ingress, spec.egress and specs (a network policy's rules,
// for the guardrails), spec.labels and spec.annotations (a TrainJob's label site),
// and the same again in every pod template the label engine
// finds (spec.template, spec.jobTemplate.spec.template, spec.*ReplicaSpecs.*.template).
// managedFields, containers, volumes, status and the like are never copied (so whether an UPDATE
// writes a template is decided on policy/template_fields.hpp's fields, all of them kept here).
// padding: readable bytes after body (>= review_body_padding: no copy).
std::shared_ptr<review_document> parse_review_document(std::string_view body,
                                                       std::size_t padding = 0);

}  // namespace mlnetpol::admission
