#pragma once
// The label webhook behind /mutate and /validate: the policy engine over a configuration snapshot
// and the namespace labels the controller's cache knows. Stateless: nothing a request carries
// changes the answer to a later request.
//
// Namespace labels (the mlnetpol.io/enforcement override) come only from `namespaces`; with none
// (null: no cluster access, or not synced yet) the per-namespace override is not honoured and the
// configured enforcement mode applies. A Namespace request is judged on its own labels.
//
// Internal errors are exceptions, which process_review answers with HTTP 500 so the webhook's
// failurePolicy decides; a request is never denied for mlnetpol's own failure.
#include "admission/review.hpp"
#include "common/snapshot.hpp"
#include "policy/config.hpp"
#include "policy/namespace_lookup.hpp"

namespace mlnetpol::admission {

class label_webhook {
 public:
  // Both must outlive the webhook; `config` is read once per request.
  label_webhook(const snapshot<policy::config>& config, const policy::namespace_lookup* namespaces);
  label_webhook(const label_webhook&) = delete;
  label_webhook& operator=(const label_webhook&) = delete;

  handler& mutate();    // POST /mutate
  handler& validate();  // POST /validate

  review_response evaluate(const review_request& request, bool mutating) const;

 private:
  class phase_handler final : public handler {
   public:
    phase_handler(const label_webhook& w, bool mutating) : webhook_(w), mutating_(mutating) {}
    review_response handle(const review_request& request) override {
      return webhook_.evaluate(request, mutating_);
    }

   private:
    const label_webhook& webhook_;
    bool mutating_;
  };

  const snapshot<policy::config>& config_;
  const policy::namespace_lookup* namespaces_;
  phase_handler mutate_{*this, true};
  phase_handler validate_{*this, false};
};

}  // namespace mlnetpol::admission
