#include "app/cluster_input.hpp"

#include <cstdlib>

#include <rapidjson/document.h>

#include "app/config_file.hpp"
#include "app/manifest_documents.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "k8s/client.hpp"
#include "policy/eval/parse.hpp"
#include "policy/render/clusterwide.hpp"

namespace mlnetpol::app {
namespace {

// The live kinds beside those k8s/client.hpp already names.
constexpr k8s::resource pods{"", "v1", "pods", "Pod", true};

result<void> add_live(policy::eval::cluster& c, const std::string& kubeconfig) {
  auto config = k8s::load_rest_config(kubeconfig);
  if (!config) return config.error();
  k8s::client client(std::move(*config));
  for (const k8s::resource* r : {&k8s::namespaces, &pods, &k8s::network_policies,
                                 &k8s::cilium_network_policies, &k8s::cilium_clusterwide_network_policies}) {
    auto body = client.list_raw(*r, "");
    if (!body) {
      // Without Cilium's CRDs there are no Cilium policies to read.
      if (body.error().kind == k8s::failure_kind::crd_missing) continue;
      return fail("listing " + r->rbac_name() + ": " + body.error().message);
    }
    rapidjson::Document list;
    rapidjson::Value* items = nullptr;
    if (json::parse(list, *body)) items = json::member(list, "items");
    if (items == nullptr || !items->IsArray())
      return fail("listing " + r->rbac_name() + ": the answer is not a list");
    // Items of an API list carry no apiVersion/kind: the list's resource gives them.
    const std::string api_version = r->api_version();
    std::size_t i = 0;
    for (auto& item : items->GetArray()) {
      if (!item.IsObject()) continue;
      item.RemoveMember("apiVersion");
      item.RemoveMember("kind");
      item.AddMember("apiVersion", rapidjson::Value(api_version.c_str(), list.GetAllocator()),
                     list.GetAllocator());
      item.AddMember("kind", rapidjson::StringRef(r->kind.data(), r->kind.size()),
                     list.GetAllocator());
      auto ok = policy::eval::add_object(
          c, item, "live " + r->rbac_name() + "[" + std::to_string(i++) + "]");
      if (!ok) return ok.error();
    }
  }
  return {};
}

}  // namespace

void add_cluster_flags(flags::parser& p, cluster_sources& sources) {
  p.value("--filename",
          [&sources](std::string_view v) -> std::string {
            sources.files.emplace_back(v);
            return {};
          })
      .alias("-f", "--filename")
      .value("--config",
             [&sources](std::string_view v) -> std::string {
               sources.config_path = v;
               return {};
             })
      .value("--kubeconfig", [&sources](std::string_view v) -> std::string {
        sources.kubeconfig = v;
        return {};
      });
}

result<void> add_cluster_text(policy::eval::cluster& c, std::string_view text,
                              const std::string& source) {
  auto objects = manifest_objects(text, source);
  if (!objects) return objects.error();
  for (const auto& o : *objects) {
    auto ok = policy::eval::add_object(c, *o.object, o.source);
    if (!ok) return ok.error();
  }
  return {};
}

result<void> add_rendered(policy::eval::cluster& c, const policy::config& cfg) {
  for (const auto& object : policy::render_all(cfg)) {
    rapidjson::Document d;
    d.Parse(object.json.c_str());
    auto ok =
        policy::eval::add_object(
        c, d,
        "--config " + (object.namespace_name.empty() ? "" : object.namespace_name + "/") +
            object.name);
    if (!ok) return ok.error();
  }
  return {};
}

result<loaded_cluster> load_cluster(const cluster_sources& sources) {
  loaded_cluster out;
  auto files = expand_inputs(sources.files);
  if (!files) return files.error();
  for (const auto& file : *files) {
    auto text = read_input(file);
    if (!text) return text.error();
    if (auto ok = add_cluster_text(out.data, *text, file == "-" ? "stdin" : file); !ok)
      return ok.error();
  }
  if (!sources.config_path.empty()) {
    auto cfg = load_config_file(sources.config_path);
    if (!cfg) return cfg.error();
    if (auto ok = add_rendered(out.data, *cfg); !ok) return ok.error();
    out.cfg = std::move(*cfg);
  }
  const bool in_pod = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
  if (!sources.kubeconfig.empty() ||
      (sources.files.empty() && sources.config_path.empty() && in_pod)) {
    if (auto ok = add_live(out.data, sources.kubeconfig); !ok) return ok.error();
    out.live = true;
  }
  if (sources.files.empty() && sources.config_path.empty() && !out.live)
    return fail("nothing to read: give -f FILE|DIR|-, --config FILE or --kubeconfig FILE");
  return out;
}

}  // namespace mlnetpol::app
