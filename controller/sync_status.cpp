#include "controller/sync_status.hpp"

#include "common/obs/logging.hpp"
#include "controller/plan_writes.hpp"

namespace mlnetpol::controller {

void note_writes(sync_status& s, const plan_result& wrote) {
  s.applied = wrote.applied;
  s.pruned = wrote.pruned;
  if (wrote.error) {
    s.state = "error";
    s.message = describe(*wrote.error);
  }
}

void log_sync(const sync_wording& words, const sync_status& next, bool changed,
              const std::function<void()>& in_place) {
  namespace logging = obs::logging;
  using level = spdlog::level::level_enum;
  const std::string subject(words.subject);
  if (next.state == "error") {
    logging::event(level::err, subject + " not in place", {{"error", next.message}});
  } else if (changed && next.state == words.degraded_state) {
    logging::event(level::warn, words.degraded_line, {{"reason", next.message}});
  } else if (changed) {
    in_place();
  }
  if (next.applied > 0 || next.pruned > 0) {
    logging::event(level::info, subject + " reconciled",
                   {{"applied", static_cast<std::uint64_t>(next.applied)},
                    {"pruned", static_cast<std::uint64_t>(next.pruned)}});
  }
}

}  // namespace mlnetpol::controller
