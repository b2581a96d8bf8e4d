// controller/admission_policies.cpp against the in-memory cluster: the version chosen by
// discovery, what one pass writes (nothing when converged), repair of an edit, prune, and the
// fallback when neither version is served.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "controller/admission_policies.hpp"
#include "policy/render/admission_policies.hpp"
#include "tests/controller/fake_cluster.hpp"

namespace controller = mlnetpol::controller;
namespace policy = mlnetpol::policy;
using mlnetpol::controller::testing::fake_cluster;
using mlnetpol::controller::testing::make_error;

namespace {

policy::config sample() {
  policy::config cfg;
  cfg.platform_namespaces = {};
  cfg.tenant_namespaces = {"team-a"};
  cfg.ml_training_namespaces = {"training"};
  cfg.ml_inference_namespaces = {"serving"};
  return cfg;
}

std::size_t count_calls(fake_cluster& f, std::string_view prefix) {
  const auto calls = f.calls();
  return static_cast<std::size_t>(std::count_if(
      calls.begin(), calls.end(), [&](const std::string& c) { return c.starts_with(prefix); }));
}

}  // namespace

TEST_CASE("admission policy keeper: neither version served: unavailable, nothing written") {
  fake_cluster f;
  f.serve_resources("admissionregistration.k8s.io/v1", {"validatingwebhookconfigurations"});
  controller::admission_policy_keeper keeper(f);
  CHECK(keeper.status().state == "unknown");
  const auto s = keeper.sync(sample());
  CHECK(s.state == "unavailable");
  CHECK(s.message.find("the webhooks are the only enforcement") != std::string::npos);
  CHECK(keeper.status().state == "unavailable");
  CHECK(f.calls().empty());  // discovery is not a recorded write or list
}

TEST_CASE("admission policy keeper: creates, then leaves a converged cluster alone") {
  fake_cluster f;
  f.serve_resources("admissionregistration.k8s.io/v1beta1",
                    {"validatingadmissionpolicies", "validatingadmissionpolicybindings"});
  controller::admission_policy_keeper keeper(f);
  auto s = keeper.sync(sample());
  CHECK(s.state == "served");
  CHECK(s.api_version == "admissionregistration.k8s.io/v1beta1");
  const auto rendered =
      policy::render_admission_policies(sample(), policy::admission_policy_v1beta1);
  CHECK(s.objects == rendered.size());
  CHECK(s.applied == rendered.size());
  CHECK(f.names("ValidatingAdmissionPolicy", "").size() == 4);
  CHECK(f.names("ValidatingAdmissionPolicyBinding", "").size() == 12);
  f.clear_calls();
  s = keeper.sync(sample());
  CHECK(s.applied == 0);
  CHECK(s.pruned == 0);
  CHECK(count_calls(f, "apply") + count_calls(f, "replace") + count_calls(f, "delete") == 0);

  SUBCASE("an edit is replaced whole") {
    f.put_object("ValidatingAdmissionPolicyBinding", "", "mlnetpol-host-network-enforce",
                 {{"app.kubernetes.io/managed-by", "mlnetpol"}}, {}, "kubectl-edit",
                 R"({"policyName":"mlnetpol-host-network","validationActions":["Audit"]})");
    f.clear_calls();
    s = keeper.sync(sample());
    CHECK(s.applied == 1);
    CHECK(count_calls(
              f, "replace ValidatingAdmissionPolicyBinding /mlnetpol-host-network-enforce") == 1);
    CHECK(f.find("ValidatingAdmissionPolicyBinding", "", "mlnetpol-host-network-enforce")
              ->meta.spec.find("\"Deny\"") != std::string::npos);
  }
  SUBCASE("a namespace leaving the lists prunes what only it needed") {
    policy::config cfg = sample();
    cfg.ml_inference_namespaces = {};
    f.clear_calls();
    s = keeper.sync(cfg);
    CHECK(s.pruned == 4);  // the inference policy and its three bindings
    CHECK(f.names("ValidatingAdmissionPolicy", "").size() == 3);
    CHECK_FALSE(f.find("ValidatingAdmissionPolicy", "", "mlnetpol-workload-type-inference"));
  }
}

TEST_CASE("admission policy keeper: v1 preferred when served") {
  fake_cluster f;
  f.serve_resources("admissionregistration.k8s.io/v1",
                    {"validatingadmissionpolicies", "validatingadmissionpolicybindings"});
  f.serve_resources("admissionregistration.k8s.io/v1beta1",
                    {"validatingadmissionpolicies", "validatingadmissionpolicybindings"});
  controller::admission_policy_keeper keeper(f);
  const auto s = keeper.sync(sample());
  CHECK(s.api_version == "admissionregistration.k8s.io/v1");
  CHECK(f.find("ValidatingAdmissionPolicy", "", "mlnetpol-host-network")
            ->json.find("\"apiVersion\":\"admissionregistration.k8s.io/v1\"") != std::string::npos);
}

TEST_CASE("admission policy keeper: a refused write is reported, not retried in the pass") {
  fake_cluster f;
  f.serve_resources("admissionregistration.k8s.io/v1beta1",
                    {"validatingadmissionpolicies", "validatingadmissionpolicybindings"});
  f.fail_next("apply ValidatingAdmissionPolicy /mlnetpol-workload-type-training",
              make_error(mlnetpol::k8s::failure_kind::forbidden, 403, "forbidden"));
  controller::admission_policy_keeper keeper(f);
  const auto s = keeper.sync(sample());
  CHECK(s.state == "error");
  CHECK(s.message.find("forbidden") != std::string::npos);
  CHECK(count_calls(f, "apply") == 1);
}
