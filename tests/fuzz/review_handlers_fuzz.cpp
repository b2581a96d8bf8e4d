// The AdmissionReview decoder followed by the real mutate and validate handlers, under the default
// configuration and under ones that secure ML namespaces (enforce, warn, audit), the enforce one
// on a replica whose namespaces have no policy set recorded (the scheduling gate's patch). Invariant
// (enforce): a mutate response's patch applies to the request's object, mutating the patched object
// patches nothing more, and validating it is never denied for a reason the patch was meant to fix
// (no rule fires more often than on the original, and a label patch leaves fewer sites without the
// label). And the decoder's fast path (simdjson On-Demand, review_document.hpp) takes only bodies
// that pass the structural checks (tests/admission/structural_check.hpp, an independent byte
// loop): whole, valid UTF-8, balanced, not too deep, nothing after the root; what it refuses
// RapidJSON answers. (Since issue 27 it may take a body RapidJSON refuses, when the malformed part
// is in a subtree no decision reads.)
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "admission/codec.hpp"
#include "common/json_parse.hpp"
#include "admission/json_patch.hpp"
#include "admission/review.hpp"
#include "admission/review_document.hpp"
#include "policy/decision.hpp"
#include "policy/kinds.hpp"
#include "policy/labels.hpp"
#include "tests/admission/structural_check.hpp"
#include "tests/support/webhook_under_test.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace admission = mlnetpol::admission;
namespace policy = mlnetpol::policy;
using mlnetpol::fuzz::has_duplicate_names;
using mlnetpol::fuzz::invariant_failed;

policy::config ml_config(policy::enforcement_mode mode) {
  policy::config cfg;
  cfg.ml_training_namespaces = {"ml-training", "kubeflow", "training", "mlops"};
  cfg.ml_inference_namespaces = {"ml-serving", "serving", "mlops"};
  cfg.tenant_namespaces = {"team-a"};
  cfg.platform_namespaces = {"argocd"};
  cfg.enforcement = mode;
  return cfg;
}

std::map<std::string, int> rule_counts(const admission::review_response& r) {
  std::map<std::string, int> out;
  for (const auto& v : r.violations) ++out[std::string(v.rule)];
  return out;
}

void check_patch_invariant(const admission::review_request& request) {
  // Fresh handlers per input: no state carries from one input to the next. A replica with a
  // controller and no set recorded anywhere: every Pod CREATE in a secured namespace gets the
  // scheduling gate, so its patch is under the invariant too.
  const mlnetpol::testing::controller_lookup lookup;
  mlnetpol::testing::policy_handlers handlers(ml_config(policy::enforcement_mode::enforce),
                                               &lookup);
  const admission::review_response mutated = handlers.mutate().handle(request);
  if (mutated.patch.empty()) return;
  if (request.object == nullptr) invariant_failed("a patch without an object", mutated.patch);
  if (mutated.decision != "patched") {
    invariant_failed("a patch not reported as patched", mutated.patch);
  }
  if (has_duplicate_names(*request.object)) return;

  auto patched = std::make_shared<rapidjson::Document>();
  patched->CopyFrom(*request.object, patched->GetAllocator());
  if (auto applied = admission::apply_patch(*patched, mutated.patch); !applied) {
    invariant_failed("the patch does not apply", applied.error().message + "\n" + mutated.patch);
  }
  // The patched request shares everything else (old_object too) with the original, whose
  // document outlives it here.
  admission::review_request after = request;
  after.object = patched.get();

  const admission::review_response again = handlers.mutate().handle(after);
  if (!again.patch.empty()) {
    invariant_failed("mutating the patched object patches again", again.patch);
  }
  const auto before_rules = rule_counts(handlers.validate().handle(request));
  const admission::review_response validated = handlers.validate().handle(after);
  const auto after_rules = rule_counts(validated);
  for (const auto& [rule, count] : after_rules) {
    const auto it = before_rules.find(rule);
    if (it == before_rules.end() || it->second < count) {
      invariant_failed("the patched object breaks a rule the original did not",
                       rule + ": " + validated.message);
    }
  }
  const bool labels_pods = policy::is_pod_kind(request.kind.group, request.kind.kind) ||
                           policy::is_workload_kind(request.kind.group, request.kind.kind);
  if (labels_pods) {
    const std::string missing{policy::rule_workload_type_missing};
    const int before = before_rules.count(missing) ? before_rules.at(missing) : 0;
    const int now = after_rules.count(missing) ? after_rules.at(missing) : 0;
    if (before > 0 && now >= before) {
      invariant_failed("the label patch left every site without the label", validated.message);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  mlnetpol::fuzz::run_within_budget(size, [&] {
    // The whole path (decode, handler, encode) once per input, under a configuration picked by
    // the input's size: the default, or ML namespaces secured in warn or audit mode (enforce is
    // what the invariant runs).
    // Fresh handlers: nothing learnt from one input may change the next.
    const policy::config configs[] = {policy::config{}, ml_config(policy::enforcement_mode::warn),
                                      ml_config(policy::enforcement_mode::audit)};
    mlnetpol::testing::policy_handlers h(configs[size % 3]);
    (void)admission::process_review(body, (size / 3) % 2 ? h.mutate() : h.validate());
    auto decoded = admission::decode_review(body);
    if (decoded) check_patch_invariant(*decoded);
    if (admission::parse_review_document(body) != nullptr &&
        !admission::testing::structurally_whole(body)) {
      invariant_failed("the fast path took a body that is not structurally whole", "");
    }
  });
  return 0;
}
