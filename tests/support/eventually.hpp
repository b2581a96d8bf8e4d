#pragma once
// Polling for what threads of the code under test do (the one copy every test folder uses).
#include <chrono>
#include <functional>
#include <thread>

namespace mlnetpol::testing {

// How long eventually() waits by default. Generous on purpose: a condition that holds returns at
// once, so this bounds only a failing test, and a loaded 2-core CI machine under ASan needs
// seconds for what takes milliseconds on a quiet one.
inline constexpr std::chrono::milliseconds eventually_limit{20'000};

// Polls ok every `poll` until it holds or `limit` passes; true when it held. A check that something
// does NOT happen cannot use this: it waits its own explicit, short time and then looks.
inline bool eventually(const std::function<bool()>& ok,
                       std::chrono::milliseconds limit = eventually_limit,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(poll);
  }
  return ok();
}

}  // namespace mlnetpol::testing
