#include "policy/labels.hpp"
#include "common/json.hpp"
#include "policy/inference.hpp"
#include "policy/kinds.hpp"
#include "policy/name_rules.hpp"

#include <doctest/doctest.h>

#include <string>

#include "policy/warnings.hpp"

using namespace mlnetpol::policy;
using mlnetpol::json::map_value;

TEST_CASE("Kubernetes name rules") {
  struct row {
    const char* text;
    bool label, subdomain, qualified, value;
  };
  const std::string long63(63, 'a');
  const std::string long64(64, 'a');
  for (const auto& r : std::initializer_list<row>{
           {"training", true, true, true, true},
           {"ml-training", true, true, true, true},
           {"a.b", false, true, true, true},
           {"Training", false, false, true, true},
           {"-a", false, false, false, false},
           {"a-", false, false, false, false},
           {"", false, false, false, true},
           {"workload-type", true, true, true, true},
           {"mlnetpol.io/secured", false, false, true, false},
           {"training.kubeflow.org/job-name", false, false, true, false},
           {"a/b/c", false, false, false, false},
           {"/b", false, false, false, false},
           {"under_score", false, false, true, true},
           {"has space", false, false, false, false},
       }) {
    CAPTURE(r.text);
    CHECK(is_dns1123_label(r.text) == r.label);
    CHECK(is_dns1123_subdomain(r.text) == r.subdomain);
    CHECK(is_qualified_name(r.text) == r.qualified);
    CHECK(is_label_value(r.text) == r.value);
  }
  CHECK(is_dns1123_label(long63));
  CHECK_FALSE(is_dns1123_label(long64));
  CHECK(is_qualified_name(long63));
  CHECK_FALSE(is_qualified_name(long64));
}

TEST_CASE("allowed values and the namespace signal follow the roles") {
  namespace_roles training{.training = true};
  namespace_roles inference{.inference = true};
  namespace_roles both{.training = true, .inference = true};
  namespace_roles none{};
  CHECK(allowed_workload_types(training) == std::vector<std::string_view>{"training"});
  CHECK(allowed_workload_types(inference) == std::vector<std::string_view>{"inference"});
  CHECK(allowed_workload_types(both) == std::vector<std::string_view>{"training", "inference"});
  CHECK(allowed_workload_types(none).empty());
  CHECK(namespace_workload_type(training) == "training");
  CHECK(namespace_workload_type(inference) == "inference");
  CHECK_FALSE(namespace_workload_type(both));
  CHECK_FALSE(namespace_workload_type(none));
}

TEST_CASE("owner kinds map to workload types") {
  for (const char* kind :
       {"PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob", "TrainJob", "Job"}) {
    CHECK(owner_kind_workload_type(kind) == "training");
  }
  for (const char* kind : {"InferenceService", "ServingRuntime"}) {
    CHECK(owner_kind_workload_type(kind) == "inference");
  }
  for (const char* kind : {"ReplicaSet", "StatefulSet", "", "pytorchjob"}) {
    CHECK_FALSE(owner_kind_workload_type(kind));
  }
}

TEST_CASE("controller_owner_kind reads only the controlling owner") {
  rapidjson::Document d;
  d.Parse(R"({"ownerReferences":[{"kind":"A","controller":false},{"kind":"B"},
              {"kind":"PyTorchJob","controller":true}]})");
  CHECK(controller_owner_kind(&d) == "PyTorchJob");
  d.Parse(R"({"ownerReferences":[{"kind":"A"}]})");
  CHECK(controller_owner_kind(&d) == "");
  d.Parse(R"({"ownerReferences":"bogus"})");
  CHECK(controller_owner_kind(&d) == "");
  CHECK(controller_owner_kind(nullptr) == "");
}

TEST_CASE("pod_sites finds the pod and every template, skipping malformed ones") {
  rapidjson::Document d;
  d.Parse(R"({"metadata":{"labels":{"a":"b"}},"spec":{"hostNetwork":true}})");
  auto sites = pod_sites("", "Pod", d);
  REQUIRE(sites.size() == 1);
  CHECK(sites[0].metadata_path == path_steps{"metadata"});
  CHECK(sites[0].template_path.empty());
  CHECK(map_value(sites[0].metadata, "labels", "a") == "b");

  d.Parse(R"({"spec":{"tfReplicaSpecs":{"Chief":{"template":{"metadata":{}}},
              "Broken":{"template":"x"},"Worker":{"replicas":2,"template":{}}}}})");
  sites = pod_sites("kubeflow.org", "TFJob", d);
  REQUIRE(sites.size() == 2);
  CHECK(sites[0].template_path == "spec.tfReplicaSpecs.Chief.template");
  CHECK(sites[1].metadata_path ==
        path_steps{"spec", "tfReplicaSpecs", "Worker", "template", "metadata"});
  CHECK(sites[1].metadata == nullptr);

  d.Parse(R"({"spec":{"template":[]}})");
  CHECK(pod_sites("apps", "Deployment", d).empty());
  d.Parse(R"({"spec":{}})");
  CHECK(pod_sites("batch", "CronJob", d).empty());
  CHECK(pod_sites("apps", "Pod", d).empty());  // wrong group
  CHECK(pod_sites("", "ConfigMap", d).empty());
  d.Parse("[]");
  CHECK(pod_sites("", "Pod", d).empty());
}

TEST_CASE("pod_sites: a TrainJob's label site is its spec (labels for its JobSet and Jobs)") {
  rapidjson::Document d;
  d.Parse(R"({"metadata":{"labels":{"workload-type":"inference"}},
              "spec":{"labels":{"workload-type":"training"},"runtimeRef":{"name":"torch"},
                      "hostNetwork":true}})");
  auto sites = pod_sites("trainer.kubeflow.org", "TrainJob", d);
  REQUIRE(sites.size() == 1);
  CHECK(sites[0].metadata_path == path_steps{"spec"});
  CHECK(sites[0].template_path == "spec.labels");
  CHECK(labels_path(sites[0]) == "spec.labels");
  CHECK(map_value(sites[0].metadata, "labels", "workload-type") == "training");
  CHECK(sites[0].spec == nullptr);  // no pod spec: no hostNetwork to judge
  CHECK(sites[0].maps_only);
  d.Parse(R"({"spec":{"runtimeRef":{"name":"torch"}}})");  // no labels yet: the site all the same
  sites = pod_sites("trainer.kubeflow.org", "TrainJob", d);
  REQUIRE(sites.size() == 1);
  CHECK(map_value(sites[0].metadata, "labels", "workload-type") == std::nullopt);
  d.Parse(R"({"spec":"x"})");
  CHECK(pod_sites("trainer.kubeflow.org", "TrainJob", d).empty());
  d.Parse(R"({"metadata":{}})");
  CHECK(pod_sites("trainer.kubeflow.org", "TrainJob", d).empty());
  CHECK(pod_sites("kubeflow.org", "TrainJob", d).empty());  // wrong group
  // The other sites' labels paths, as messages name them.
  d.Parse(R"({"spec":{"template":{}}})");
  CHECK(labels_path(pod_sites("apps", "Deployment", d).at(0)) == "spec.template.metadata.labels");
  CHECK(labels_path(pod_sites("", "Pod", d).at(0)) == "metadata.labels");
}

TEST_CASE("infer_workload_type reports every signal and refuses conflicts") {
  rapidjson::Document m;
  m.Parse(R"({"labels":{"training.kubeflow.org/job-name":"x","seldon-deployment-id":"y"}})");
  const auto r = infer_workload_type({.training = true}, "kubeflow", "Job", &m);
  CHECK_FALSE(r.value);
  CHECK(r.conflict());
  REQUIRE(r.signals.size() == 4);
  CHECK(r.signals[0].annotation == "namespace:kubeflow");
  CHECK(r.signals[1].annotation == "owner:Job");
  CHECK(r.signals[2].annotation == "label:training.kubeflow.org/job-name");
  CHECK(r.signals[3].value == "inference");

  const auto none =
      infer_workload_type({.training = true, .inference = true}, "mlops", "", nullptr);
  CHECK_FALSE(none.value);
  CHECK_FALSE(none.conflict());
}

TEST_CASE("fit_warnings: prefix dropped, control characters replaced, lengths bounded") {
  const auto out = fit_warnings({"Warning: hello", "line\nbreak", std::string(300, 'x'), ""});
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "hello");
  CHECK(out[1] == "line break");
  CHECK(out[2].size() == 120);
  CHECK(out[2].substr(117) == "...");

  std::vector<std::string> many(100, std::string(100, 'w'));
  const auto fitted = fit_warnings(many);
  std::size_t total = 0;
  for (const auto& w : fitted) total += w.size();
  CHECK(total <= 4096);
  CHECK(fitted.back().find("more warnings omitted") != std::string::npos);
  CHECK(fitted.size() < many.size());
}

TEST_CASE("truncate_utf8 never splits a character") {
  const std::string s = "ab\xC3\xA9\xC3\xA9\xC3\xA9";  // ab + three e-acute
  CHECK(truncate_utf8(s, 100) == s);
  CHECK(truncate_utf8(s, 7) == "ab\xC3\xA9...");
  CHECK(truncate_utf8(s, 6) == "ab...");
}
