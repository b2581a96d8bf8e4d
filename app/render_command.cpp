// `mlnetpol render`: prints the network policies the configuration requires (kubectl-ready YAML, a
// v1 List in JSON, or a Graphviz picture), or the module's outputs with --summary.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "app/commands.hpp"
#include "app/config_file.hpp"
#include "common/flags.hpp"
#include "common/text.hpp"
#include "policy/config_parse.hpp"
#include "policy/namespaces.hpp"
#include "policy/render/admission_policies.hpp"
#include "policy/render/clusterwide.hpp"
#include "policy/render/render.hpp"

namespace mlnetpol::app {
namespace {

constexpr const char* render_usage =
    "usage: mlnetpol render [--config FILE] [--namespace NS] [-o yaml|json|dot] [--summary]\n"
    "       mlnetpol render [--config FILE] --admission-policies v1|v1beta1 [-o yaml|json]\n"
    "\n"
    "Prints the network policies the configuration requires.\n"
    "\n"
    "flags:\n"
    "  --config FILE     configuration (YAML or JSON); default: the module's defaults\n"
    "  --namespace NS    only the policies of namespace NS (exit 2 when it gets none)\n"
    "  -o, --output FMT  yaml (default; multi-document, for kubectl apply -f -),\n"
    "                    json (a v1 List) or dot (Graphviz picture of the allowed flows)\n"
    "  --summary         print the module's outputs as JSON (secured_namespaces,\n"
    "                    cilium_mode_enabled, ml_policies_enabled, policy_count)\n"
    "  --admission-policies VERSION\n"
    "                    print the ValidatingAdmissionPolicies and bindings that enforce the\n"
    "                    label rules while mlnetpol is down (what the controller keeps), as\n"
    "                    admissionregistration.k8s.io/VERSION: v1 (Kubernetes 1.30+) or v1beta1\n"
    "                    (1.28-1.29 with the ValidatingAdmissionPolicy feature gate)\n"
    "\n"
    "Settings that open more than expected (e.g. empty api_server_cidrs) are warned about on\n"
    "stderr. exit status: 0 printed, 2 bad flags, a bad configuration or a namespace without\n"
    "policies.\n";

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

int render_command(int argc, char** argv) {
  std::string config_path, only_namespace, output = "yaml", admission_version;
  bool summary = false;
  flags::wording wording;
  wording.missing_value = "{} needs a value";
  wording.unknown_flag = "unknown argument '{}'";
  wording.unexpected_argument = "unknown argument '{}'";
  flags::parser p(wording);
  p.value("--config", flags::store_into(config_path))
      .value("--namespace", flags::store_into(only_namespace))
      .value("--output", flags::store_into(output))
      .value("--admission-policies", flags::store_into(admission_version))
      .alias("-o", "--output")
      .toggle("--summary", [&] { summary = true; });
  if (const auto done = parse_arguments(p, argc, argv, "render", render_usage)) return *done;
  if (output != "yaml" && output != "json" && output != "dot") {
    return argument_error("render", "unknown output format '" + output + "' (yaml, json or dot)");
  }

  if (!admission_version.empty() && admission_version != "v1" && admission_version != "v1beta1") {
    return argument_error("render", "unknown --admission-policies version '" + admission_version +
                                        "' (v1 or v1beta1)");
  }
  if (!admission_version.empty() && (output == "dot" || summary || !only_namespace.empty())) {
    return argument_error("render",
                          "--admission-policies prints cluster-wide objects as yaml or json; it "
                          "takes neither --namespace, --summary nor -o dot");
  }

  policy::config cfg;
  if (!config_path.empty()) {
    auto loaded = load_config_file(config_path);
    if (!loaded) {
      return argument_error("render", loaded.error().message.empty() ? config_path + ": cannot load"
                                                                     : loaded.error().message);
    }
    cfg = std::move(*loaded);
  }
  if (!admission_version.empty()) {
    const auto objects = policy::render_admission_policies(
        cfg,
        admission_version == "v1" ? policy::admission_policy_v1 : policy::admission_policy_v1beta1);
    write_out(output == "json" ? policy::list_json(objects, true) : policy::objects_yaml(objects));
    return 0;
  }
  if (summary) {
    write_out(policy::summary_json(policy::summarize(cfg)) + "\n");
    return 0;
  }
  // A namespace this configuration does not secure is a mistake worth stopping a pipeline for:
  // printing nothing would look like "no policies needed".
  if (!only_namespace.empty()) {
    const auto names = policy::policy_namespaces(cfg);
    if (std::find(names.begin(), names.end(), only_namespace) == names.end()) {
      const std::string listed = text::join(names, ", ");
      return argument_error(
          "render", "namespace '" + only_namespace +
                        "' gets no policies under this configuration (namespaces with policies: " +
                        (listed.empty() ? std::string("none") : listed) +
                        "); add it to platform_namespaces, tenant_namespaces, "
                        "ml_training_namespaces or ml_inference_namespaces");
    }
  }
  for (const auto& warning : policy::permissive_settings(cfg)) {
    std::fprintf(stderr, "mlnetpol render: warning: %s\n", warning.c_str());
  }
  if (output == "dot") {
    write_out(policy::render_dot(cfg, only_namespace));
    return 0;
  }
  const auto objects = policy::render_all(cfg, only_namespace);
  write_out(output == "json" ? policy::list_json(objects, true) : policy::objects_yaml(objects));
  return 0;
}

}  // namespace mlnetpol::app
