// The built-in webhook configurations (app/shipped_webhooks.hpp) are what every self-managed
// overlay installs: `kubectl kustomize` of standard, cilium and audit, rendered with the flags
// their Deployment passes, leaves nothing for the leader to set back. Without kubectl the overlay
// part skips with one line.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "app/manifest_documents.hpp"
#include "app/shipped_webhooks.hpp"
#include "common/flags.hpp"
#include "app/cert_runnable.hpp"
#include "policy/config.hpp"
#include "tests/support/files.hpp"
#include "tests/support/kapi.hpp"

namespace app = mlnetpol::app;
namespace controller = mlnetpol::controller;

namespace {

const std::string source = MLNETPOL_SOURCE_DIR;

using mlnetpol::testing::read_text;

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

}  // namespace

TEST_CASE("built-in webhook configurations: manifests/base/webhooks.yaml as it is") {
  CHECK(app::shipped_webhooks_yaml() == read_text(source + "/manifests/base/webhooks.yaml"));
  auto shipped = app::shipped_webhooks({});
  REQUIRE_MESSAGE(shipped.has_value(), shipped.error().message);
  CHECK(shipped->mutating.find("workloads.mutate.mlnetpol.io") != std::string::npos);
  CHECK(shipped->validating.find("tenant-policies.validate.mlnetpol.io") != std::string::npos);
  // The self-restriction policy lets mlnetpol's token remove no webhook it ships: it names them.
  const std::string policy =
      read_text(source + "/manifests/components/self-restriction/policy.yaml");
  // ... and lets it set the workload label its namespace mutation adds (the default label_key).
  CHECK(policy.find("'" + mlnetpol::policy::config{}.label_key + "'") != std::string::npos);
  rapidjson::Document hooks;
  for (const auto* list : {&shipped->mutating, &shipped->validating}) {
    hooks.Parse(list->c_str());
    REQUIRE(hooks.IsArray());
    for (const auto& h : hooks.GetArray()) {
      const std::string name = h["name"].GetString();
      CHECK_MESSAGE(policy.find("'" + name + "'") != std::string::npos,
                    "self-restriction/policy.yaml does not name " << name);
    }
  }
}

TEST_CASE("built-in webhook configurations: equal to what each self-managed overlay installs") {
  if (mlnetpol::testing::run_command("command -v kubectl >/dev/null").status != 0) {
    std::puts("overlay webhook check skipped: kubectl (kustomize) is not installed");
    return;
  }
  for (const std::string overlay : {"standard", "cilium", "audit"}) {
    CAPTURE(overlay);
    const auto built = mlnetpol::testing::run_command("kubectl kustomize " + source +
                                                      "/manifests/overlays/" + overlay + " 2>&1");
    REQUIRE_MESSAGE(built.status == 0, built.out);
    auto objects = app::manifest_objects(built.out, overlay);
    REQUIRE_MESSAGE(objects.has_value(), objects.error().message);
    // The Deployment's certificate and webhook flags, as serve parses them.
    app::cert_flags flags;
    for (const auto& o : *objects) {
      if (std::string_view((*o.object)["kind"].GetString()) != "Deployment") continue;
      std::vector<std::string> args;
      for (const auto& a :
           (*o.object)["spec"]["template"]["spec"]["containers"][0]["args"].GetArray()) {
        const std::string arg = a.GetString();
        if (arg.starts_with("--cert-") || arg.starts_with("--webhook-")) args.push_back(arg);
      }
      mlnetpol::flags::parser p;
      app::declare(p, flags);
      const std::vector<std::string_view> views(args.begin(), args.end());
      auto parsed = p.parse(views);
      REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
    }
    REQUIRE(flags.mode == app::cert_mode::self);
    REQUIRE(flags.repair_whole);
    ::setenv("POD_NAMESPACE", "mlnetpol-system", 1);  // the Deployment's downward API
    auto shipped = app::shipped_webhooks(app::webhook_render_options(flags));
    REQUIRE_MESSAGE(shipped.has_value(), shipped.error().message);
    int compared = 0;
    for (const auto& o : *objects) {
      const std::string_view kind = (*o.object)["kind"].GetString();
      const std::string* desired = kind == "MutatingWebhookConfiguration"     ? &shipped->mutating
                                   : kind == "ValidatingWebhookConfiguration" ? &shipped->validating
                                                                              : nullptr;
      if (desired == nullptr) continue;
      auto changes = controller::webhooks::differences(to_json(*o.object), *desired);
      REQUIRE_MESSAGE(changes.has_value(), changes.error().message);
      std::string all;
      for (const auto& c : *changes) all += c + "\n";
      CHECK_MESSAGE(changes->empty(), overlay << " " << kind << ":\n" << all);
      ++compared;
    }
    CHECK(compared == 2);
  }
}
