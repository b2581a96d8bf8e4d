// `mlnetpol review`: evaluates an AdmissionReview offline exactly as the server would, through
// both webhooks, and prints what each answered.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "admission/base64.hpp"
#include "admission/json_patch_apply.hpp"
#include "admission/label_webhook.hpp"
#include "admission/review.hpp"
#include "app/commands.hpp"
#include "app/config_file.hpp"
#include "common/files.hpp"
#include "common/flags.hpp"
#include "common/json.hpp"
#include "common/snapshot.hpp"
#include "policy/config_parse.hpp"
#include "policy/kinds.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* review_usage =
    "usage: mlnetpol review [--config FILE] [--mode enforce|warn|audit] FILE|-\n"
    "\n"
    "Evaluates an AdmissionReview request (JSON, as the API server POSTs it; '-' reads stdin)\n"
    "offline, exactly as 'mlnetpol serve' would, through both webhooks in the API server's order:\n"
    "  1. the mutating webhook (/mutate): its AdmissionReview response, and its JSON Patch "
    "decoded;\n"
    "  2. the patch applied to request.object;\n"
    "  3. the validating webhook (/validate) on the mutated object: its AdmissionReview response;\n"
    "  4. the labels of the mutated object (metadata and every pod template).\n"
    "\n"
    "flags:\n"
    "  --config FILE   configuration file (YAML or JSON); default: the embedded defaults\n"
    "  --mode MODE     override enforcement_mode: enforce | warn | audit\n"
    "  -h, --help      this text\n"
    "\n"
    "exit status: 0 allowed by both webhooks, 1 denied by either, 2 bad input or configuration.\n";

int bad_input(const std::string& message) {
  std::fprintf(stderr, "mlnetpol review: %s\n", message.c_str());
  return 2;
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
  d.Parse(json_text.data(), json_text.size());
  if (d.HasParseError()) return std::string(json_text);
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
    print_map(
        site.template_path.empty() ? "metadata.labels" : site.template_path + ".metadata.labels",
        site.metadata);
  }
  if (is_pod && sites.empty()) print_map("metadata.labels", json::json_member(object, "metadata"));
}

struct webhook_answer {
  admission::review_outcome outcome;
  bool allowed = false;
  std::string patch;  // decoded
};

std::optional<webhook_answer> call(std::string_view body, admission::handler& h,
                                   std::string& error) {
  webhook_answer answer;
  answer.outcome = admission::process_review(body, h);
  if (answer.outcome.decision == "error") {
    error =
        answer.outcome.error.empty() ? "the request could not be evaluated" : answer.outcome.error;
    return std::nullopt;
  }
  rapidjson::Document response;
  response.Parse(answer.outcome.body.c_str());
  const rapidjson::Value* r = json::json_member(&response, "response");
  const rapidjson::Value* allowed = json::json_member(r, "allowed");
  answer.allowed = allowed != nullptr && allowed->IsBool() && allowed->GetBool();
  const std::string_view patch = json::json_string(json::json_member(r, "patch"));
  if (!patch.empty()) {
    auto decoded = admission::base64_decode(patch);
    if (!decoded) {
      error = "the response's patch is not valid base64";
      return std::nullopt;
    }
    answer.patch = std::move(*decoded);
  }
  return answer;
}

}  // namespace

int review_command(int argc, char** argv) {
  std::optional<std::string> config_path;
  std::optional<policy::enforcement_mode> mode;
  std::optional<std::string> input;
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
      .positional([&](std::string_view v) -> std::string {
        if (input) return "one input file only (got " + *input + " and " + std::string(v) + ")";
        input = std::string(v);
        return {};
      });
  const auto parsed = p.parse(argc, argv);
  if (!parsed) {
    if (parsed.error().message.starts_with("unknown flag")) {
      std::fprintf(stderr, "mlnetpol review: %s\n\n%s", parsed.error().message.c_str(),
                   review_usage);
      return 2;
    }
    return bad_input(parsed.error().message);
  }
  if (*parsed) {
    std::fputs(review_usage, stdout);
    return 0;
  }
  if (!input) {
    std::fprintf(stderr, "mlnetpol review: no input file\n\n%s", review_usage);
    return 2;
  }

  policy::config cfg;
  if (config_path) {
    auto loaded = load_config_file(*config_path);
    if (!loaded) return bad_input("bad configuration:\n" + loaded.error().message);
    cfg = std::move(*loaded);
  }
  if (mode) cfg.enforcement = *mode;

  std::string body;
  if (*input == "-") {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto text = files::read(*input);
    if (!text) return bad_input(text.error().message);
    body = std::move(*text);
  }
  const std::string source = *input == "-" ? "stdin" : *input;

  const snapshot<policy::config> config{cfg};
  admission::label_webhook handlers(config, nullptr);  // offline: no namespace labels
  std::string error;
  const auto mutated = call(body, handlers.mutate(), error);
  if (!mutated) return bad_input(source + ": " + error);

  std::printf("mutating webhook (/mutate): %s (enforcement_mode %s)\n",
              mutated->outcome.decision.c_str(),
              std::string(policy::to_string(cfg.enforcement)).c_str());
  std::printf("%s\n", pretty(mutated->outcome.body).c_str());
  std::printf("\npatch (decoded):\n%s\n",
              mutated->patch.empty() ? "(none)" : pretty(mutated->patch).c_str());

  // The validating webhook sees the object as the mutating webhook left it.
  rapidjson::Document review;
  review.Parse(body.data(), body.size());
  rapidjson::Value* request =
      review.IsObject() && review.HasMember("request") ? &review["request"] : nullptr;
  rapidjson::Value* object = request != nullptr && request->IsObject() &&
                                     request->HasMember("object") && (*request)["object"].IsObject()
                                 ? &(*request)["object"]
                                 : nullptr;
  if (!mutated->patch.empty()) {
    if (object == nullptr) return bad_input(source + ": a patch for a request without an object");
    if (auto applied = admission::apply_patch(*object, mutated->patch, review.GetAllocator());
        !applied) {
      return bad_input(source + ": the patch does not apply: " + applied.error().message);
    }
  }
  rapidjson::StringBuffer mutated_body;
  rapidjson::Writer<rapidjson::StringBuffer> writer(mutated_body);
  review.Accept(writer);
  const auto validated =
      call({mutated_body.GetString(), mutated_body.GetSize()}, handlers.validate(), error);
  if (!validated) return bad_input(source + ": " + error);

  std::printf("\nvalidating webhook (/validate), on the mutated object: %s\n",
              validated->outcome.decision.c_str());
  std::printf("%s\n", pretty(validated->outcome.body).c_str());

  std::string group, kind;
  if (request != nullptr) {
    const rapidjson::Value* gvk = json::json_member(request, "kind");
    group = json::json_string(json::json_member(gvk, "group"));
    kind = json::json_string(json::json_member(gvk, "kind"));
  }
  print_labels(object, group, kind);

  const bool allowed = mutated->allowed && validated->allowed;
  std::printf("\nresult: %s\n", allowed ? "allowed" : "denied");
  return allowed ? 0 : 1;
}

}  // namespace mlnetpol::app
