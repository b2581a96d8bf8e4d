#pragma once
// Something the app starts after the server and stops after the server drained (controller-
// runtime's Runnable): a controller's workers, its leader election. The app stops runnables in the
// reverse order of adding, before it stops the io_contexts, so each can release what it holds
// (a Lease) while the I/O still runs.
#include <string_view>

namespace mlnetpol::app {

class runnable {
 public:
  virtual ~runnable() = default;
  virtual std::string_view name() const = 0;
  // Starts the work; throws std::runtime_error when it cannot (start-up is then aborted).
  virtual void start() = 0;
  // Stops the work and returns once it stopped; must not throw. Called at most once, after start.
  virtual void stop() = 0;
  // The server began to drain: hand over at once what another replica should take now (a lease),
  // keep what requests still read (a cache) until stop(). Returns at once; must not throw.
  virtual void draining() {}
};

}  // namespace mlnetpol::app
