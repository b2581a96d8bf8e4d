#pragma once
// The label engine behind /mutate and /validate: owns the live configuration (swapped atomically on
// reload) and the namespace-label cache the per-namespace enforcement override reads.
#include <memory>

#include "admission/review.hpp"
#include "policy/config.hpp"

namespace mlnetpol::admission {

class policy_handlers {
 public:
  explicit policy_handlers(policy::config initial);
  ~policy_handlers();
  policy_handlers(const policy_handlers&) = delete;
  policy_handlers& operator=(const policy_handlers&) = delete;

  void update_config(policy::config next);  // thread-safe; requests in flight keep the old one
  std::shared_ptr<const policy::config> current_config() const;

  handler& mutate();    // POST /mutate
  handler& validate();  // POST /validate

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace mlnetpol::admission
