#pragma once
// A token bucket: `burst` tokens, one more every `refill` (0: refilled at once), starting full.
// Time is passed in, so each caller picks the clock and tests pick the instants; not synchronized:
// callers that share one hold their own lock.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

namespace mlnetpol {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  token_bucket(double burst, std::chrono::nanoseconds refill, clock::time_point now)
      : burst_(burst),
        per_second_(refill.count() > 0 ? 1e9 / static_cast<double>(refill.count())
                                       : std::numeric_limits<double>::infinity()),
        tokens_(burst),
        last_(now) {}

  // Refills up to now, then: is there a whole token? Apart from take() so a caller can check
  // several buckets before it takes from any.
  bool available(clock::time_point now) {
    refill(now);
    return tokens_ >= 1 - 1e-9;  // refills summed in steps must not miss a whole token
  }
  void take() { tokens_ -= 1; }
  bool try_take(clock::time_point now) {
    if (!available(now)) return false;
    take();
    return true;
  }
  // Takes a token even when there is none, and says how long the debt takes to pay back (zero
  // when a token was there): a rate-limited queue waits that long.
  std::chrono::nanoseconds reserve(clock::time_point now) {
    refill(now);
    tokens_ -= 1;
    if (tokens_ >= 0) return {};
    return std::chrono::nanoseconds(static_cast<std::int64_t>(-tokens_ / per_second_ * 1e9));
  }

 private:
  void refill(clock::time_point now) {
    if (now <= last_) return;
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    last_ = now;
  }

  double burst_;
  double per_second_;
  double tokens_;
  clock::time_point last_;
};

}  // namespace mlnetpol
