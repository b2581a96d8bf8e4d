#pragma once
// The request decoder's fast path: simdjson On-Demand reads an AdmissionReview body once, in
// document order, and writes the parts a decision reads straight into a small RapidJSON document
// (the codec, the label engine and the patch builder read it as rapidjson::Value).
//
// The rule (issue 27): a subtree no decision reads gets only the structural checks (the body is
// whole, valid UTF-8, its brackets balanced and matched, no deeper than json::default_max_depth, no
// content after the root value); every value that is read is fully validated.
#include <cstddef>
#include <memory>
#include <string_view>

#include <rapidjson/document.h>

namespace mlnetpol::admission {

// Bytes a caller may leave readable (and unused) after a body so the parser reads it in place.
inline constexpr std::size_t review_body_padding = 64;

namespace detail {
// simdjson's On-Demand parser, declared here without its (large) header.
struct parser_holder;
struct parser_holder_deleter {
  void operator()(parser_holder* p) const;
};
}  // namespace detail

// A decoded review: the document, the pools its values and its build stack live in, and the parser
// whose string buffer its keys and strings point into (not copied). A document is reused only once
// nobody holds it, so its strings stay valid for as long as anyone can read them.
struct review_document {
  review_document();
  std::unique_ptr<detail::parser_holder, detail::parser_holder_deleter> parser;
  // The pools' first chunks, in the same allocation: a typical review's kept parts (and the stack
  // of still open containers while they are built) fit in them, so a reused document decodes
  // without a heap allocation.
  alignas(16) char first_chunk[8 * 1024];
  alignas(16) char stack_chunk[2 * 1024];
  rapidjson::MemoryPoolAllocator<> pool;
  rapidjson::MemoryPoolAllocator<> stack_pool;
  rapidjson::Document document;  // declared last: destroyed before the pools and the parser
};

// Decodes body and keeps only what a decision reads: apiVersion, kind and the request fields the
// codec models; of request.object/oldObject the apiVersion, kind, metadata's name, generateName,
// namespace, labels, annotations and ownerReferences, spec.hostNetwork, spec.schedulingGates,
// spec.ingress, spec.egress and specs (a network policy's rules, for the guardrails), spec.labels
// and spec.annotations (a TrainJob's label site), and the same again in every pod template the
// label engine finds (spec.template, spec.jobTemplate.spec.template,
// spec.*ReplicaSpecs.*.template). managedFields, containers, volumes, status and the like are
// stepped over (so whether an UPDATE writes a template is decided on policy/template_fields.hpp's
// fields, all of them kept here).
// Returns null when the body fails a structural check, a kept value is not valid JSON (or one
// RapidJSON would read differently), or the root is no object: the caller's RapidJSON parse then
// gives the answer (its error message, or its document).
// padding: readable bytes after body (>= review_body_padding: no copy).
std::shared_ptr<review_document> parse_review_document(std::string_view body,
                                                       std::size_t padding = 0);

}  // namespace mlnetpol::admission
