#pragma once
// Self-managed webhook certificates (--cert-management=self) as one of serve's runnables: started
// after the reconciler, whose leadership it shares (with --reconcile=false it elects itself on the
// same Lease), and stopped before it. Every replica loads the pair from the Secret into the server.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "app/reconciler_runnable.hpp"
#include "app/runnable.hpp"
#include "controller/cert_serve.hpp"

namespace mlnetpol::app {

class cert_runnable final : public runnable {
 public:
  // `install` puts a serving pair in force (the server's set_certificate).
  using install_fn = std::function<std::string(std::string_view cert, std::string_view key)>;

  // rest: the cluster access serve loaded (start() needs it: self-managed certificates).
  cert_runnable(controller::cert_flags flags, std::optional<k8s::rest_config> rest,
                const reconciler_runnable& reconciler, install_fn install);
  ~cert_runnable() override;

  std::string_view name() const override { return "certificates"; }
  void start() override;
  void stop() override;

  std::string not_ready() const;  // "" once the Secret's pair is in force
  void render_metrics(std::string& out) const;

 private:
  controller::cert_flags flags_;
  std::optional<k8s::rest_config> rest_;
  const reconciler_runnable& reconciler_;
  install_fn install_;
  std::shared_ptr<controller::cert_manager> manager_;
  std::shared_ptr<controller::cert_manager> current() const { return std::atomic_load(&manager_); }
};

}  // namespace mlnetpol::app
