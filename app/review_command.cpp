// `mlnetpol review`: evaluates manifests or an AdmissionReview offline exactly as the server would,
// through both webhooks, and prints what each answered.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>


#include "admission/label_webhook.hpp"
#include "admission/review.hpp"
#include "app/commands.hpp"
#include "app/config_file.hpp"
#include "app/manifest_documents.hpp"
#include "app/manifest_review.hpp"
#include "app/review_pipeline.hpp"
#include "common/files.hpp"
#include "common/flags.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "common/snapshot.hpp"
#include "policy/config_parse.hpp"
#include "policy/kinds.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* review_usage =
    "usage: mlnetpol review [--config FILE] [--mode enforce|warn|audit] [--namespace NS]\n"
    "                       [-o text|json] FILE|DIR|- ...\n"
    "\n"
    "Evaluates objects offline, exactly as 'mlnetpol serve' would, through both webhooks in the\n"
    "API server's order. Two kinds of input:\n"
    "\n"
    "Manifests (what 'kubectl apply -f' takes; e.g. 'helm template ... | mlnetpol review -'):\n"
    "  YAML or JSON, several documents per file, v1 Lists, directories (*.yaml, *.yml, *.json),\n"
    "  '-' for stdin. Each object is reviewed as a CREATE in its metadata.namespace (else\n"
    "  --namespace, default \"default\") by user mlnetpol-review. One line per object:\n"
    "  allowed | would be patched (the patch) | denied (the message) | not reviewed (kinds the\n"
    "  webhooks are not registered for); -o json prints {results: [...], denied: N}.\n"
    "\n"
    "One AdmissionReview request (JSON, as the API server POSTs it):\n"
    "  1. the mutating webhook (/mutate): its AdmissionReview response, and its JSON Patch "
    "decoded;\n"
    "  2. the patch applied to request.object;\n"
    "  3. the validating webhook (/validate) on the mutated object: its AdmissionReview response;\n"
    "  4. the labels of the mutated object (metadata and every pod template).\n"
    "\n"
    "flags:\n"
    "  --config FILE      configuration file (YAML or JSON); default: the embedded defaults\n"
    "  --mode MODE        override enforcement_mode: enforce | warn | audit\n"
    "  --namespace NS     namespace of manifests without metadata.namespace (default: default)\n"
    "  -o, --output FMT   text (default) or json (manifests only)\n"
    "  -h, --help         this text\n"
    "\n"
    "exit status: 0 allowed by both webhooks, 1 denied by either (any object), 2 bad input or\n"
    "configuration.\n";

int bad_input(const std::string& message) {
  return argument_error("review", message);
}

std::string pretty(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  value.Accept(writer);
  return buffer.GetString();
}

std::string pretty(std::string_view json_text) {
  rapidjson::Document d;
  if (!json::parse(d, json_text)) return std::string(json_text);
  return pretty(d);
}

void print_labels(const rapidjson::Value* object, std::string_view group, std::string_view kind) {
  std::printf("\nlabels of the mutated object:\n");
  if (object == nullptr || !object->IsObject()) {
    std::printf("  (no object in the request)\n");
    return;
  }
  auto print_map = [](const std::string& where, const rapidjson::Value* metadata) {
    std::printf("  %s:\n", where.c_str());
    const rapidjson::Value* labels = json::json_member(metadata, "labels");
    if (labels == nullptr || !labels->IsObject() || labels->MemberCount() == 0) {
      std::printf("    (none)\n");
      return;
    }
    for (const auto& m : labels->GetObject()) {
      const std::string value = m.value.IsString() ? m.value.GetString() : pretty(m.value);
      std::printf("    %s: %s\n", m.name.GetString(), value.c_str());
    }
  };
  const auto sites = policy::pod_sites(group, kind, *object);
  const bool is_pod = policy::is_pod_kind(group, kind);
  if (!is_pod) print_map("metadata.labels", json::json_member(object, "metadata"));
  for (const auto& site : sites) {
    print_map(policy::labels_path(site), site.metadata);
  }
  if (is_pod && sites.empty()) print_map("metadata.labels", json::json_member(object, "metadata"));
}

// One AdmissionReview, printed in full (both responses, the decoded patch, the labels).
int review_admission_request(const std::string& body, const std::string& source,
                             const policy::config& cfg) {
  const snapshot<policy::config> config{cfg};
  admission::label_webhook handlers(config, nullptr);  // offline: no cluster, no namespace labels
  auto chained = run_both_webhooks(body, handlers);
  if (!chained) return bad_input(source + ": " + chained.error().message);
  const webhook_answer& mutated = chained->mutated;
  std::printf("mutating webhook (/mutate): %s (enforcement_mode %s)\n",
              mutated.outcome.decision.c_str(),
              std::string(policy::to_string(cfg.enforcement)).c_str());
  std::printf("%s\n", pretty(mutated.outcome.body).c_str());
  std::printf("\npatch (decoded):\n%s\n",
              mutated.patch.empty() ? "(none)" : pretty(mutated.patch).c_str());
  std::printf("\nvalidating webhook (/validate), on the mutated object: %s\n",
              chained->validated.outcome.decision.c_str());
  std::printf("%s\n", pretty(chained->validated.outcome.body).c_str());

  const rapidjson::Value* request = json::json_member(&chained->review, "request");
  const rapidjson::Value* object = json::json_member(request, "object");
  const rapidjson::Value* gvk = json::json_member(request, "kind");
  print_labels(object != nullptr && object->IsObject() ? object : nullptr,
               json::json_string(json::json_member(gvk, "group")),
               json::json_string(json::json_member(gvk, "kind")));

  const bool allowed = chained->allowed();
  std::printf("\nresult: %s\n", allowed ? "allowed" : "denied");
  return allowed ? 0 : 1;
}

bool is_admission_review(const std::string& text) {
  rapidjson::Document d;
  return json::parse(d, text) && json::string_member(d, "kind") == "AdmissionReview";
}

}  // namespace

int review_command(int argc, char** argv) {
  std::optional<std::string> config_path;
  std::optional<policy::enforcement_mode> mode;
  std::vector<std::string> inputs;
  manifest_review_options options;
  flags::wording wording;
  wording.unknown_flag = "unknown flag {}";
  flags::parser p(wording);
  p.value(
       "--config",
       [&](std::string_view v) -> std::string {
         config_path = std::string(v);
         return {};
       },
       "--config needs a file")
      .value(
          "--mode",
          [&](std::string_view v) -> std::string {
            mode = policy::parse_enforcement_mode(v);
            if (!mode) return "--mode: \"" + std::string(v) + "\" is not enforce, warn or audit";
            return {};
          },
          "--mode needs enforce, warn or audit")
      .value(
          "--namespace",
          [&](std::string_view v) -> std::string {
            if (v.empty()) return "--namespace needs a namespace name";
            options.default_namespace = std::string(v);
            return {};
          },
          "--namespace needs a namespace name")
      .alias("-n", "--namespace")
      .value(
          "--output",
          [&](std::string_view v) -> std::string {
            if (v != "text" && v != "json") return "--output needs text or json";
            options.json_output = v == "json";
            return {};
          },
          "--output needs text or json")
      .alias("-o", "--output")
      .positional([&](std::string_view v) -> std::string {
        inputs.emplace_back(v);
        return {};
      });
  const auto parsed = p.parse(argc, argv);
  if (!parsed) {
    if (parsed.error().message.starts_with("unknown flag")) {
      return usage_error("review", parsed.error().message, review_usage);
    }
    return bad_input(parsed.error().message);
  }
  if (*parsed) {
    std::fputs(review_usage, stdout);
    return 0;
  }
  if (inputs.empty()) return usage_error("review", "no input file", review_usage);

  policy::config cfg;
  if (config_path) {
    auto loaded = load_config_file(*config_path);
    if (!loaded) return bad_input("bad configuration:\n" + loaded.error().message);
    cfg = std::move(*loaded);
  }
  if (mode) cfg.enforcement = *mode;

  auto files = expand_inputs(inputs);
  if (!files) return bad_input(files.error().message);
  std::vector<manifest_input> texts;
  for (const auto& file : *files) {
    auto text = read_input(file);
    if (!text) return bad_input(text.error().message);
    texts.push_back({file == "-" ? "stdin" : file, std::move(*text)});
  }
  // A single AdmissionReview gets the detailed two-webhook report; anything else is manifests.
  if (texts.size() == 1 && is_admission_review(texts[0].text)) {
    if (options.json_output) return bad_input("-o json is for manifests, not AdmissionReviews");
    return review_admission_request(texts[0].text, texts[0].source, cfg);
  }
  for (const auto& t : texts) {
    if (is_admission_review(t.text)) {
      return bad_input(t.source +
                       ": an AdmissionReview is reviewed on its own, not with other input");
    }
  }
  return review_manifests(texts, options, cfg);
}

}  // namespace mlnetpol::app
