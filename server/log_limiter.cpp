#include "server/log_limiter.hpp"

namespace mlnetpol::server {

log_limiter::log_limiter(std::uint64_t per_second, std::uint64_t burst) {
  if (per_second == 0) return;
  bucket_.emplace(static_cast<double>(burst == 0 ? 1 : burst),
                  std::chrono::nanoseconds(1'000'000'000 / per_second), clock::now());
}

log_limiter::verdict log_limiter::admit(clock::time_point now) {
  if (!bucket_) return {};
  std::lock_guard lock(mutex_);
  if (!bucket_->try_take(now)) {
    ++suppressed_;
    return {false, 0};
  }
  verdict v{true, suppressed_};
  suppressed_ = 0;
  return v;
}

}  // namespace mlnetpol::server
