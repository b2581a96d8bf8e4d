#include "server/webhook_route.hpp"

#include <chrono>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "common/obs/logging.hpp"
#include "policy/decision.hpp"
#include "server/http_parser.hpp"
#include "server/metrics.hpp"

namespace mlnetpol::server {

namespace logging = obs::logging;
using spdlog::level::level_enum;

namespace {

// The line's composed values live on the stack: logging a decision allocates nothing.
using small_buffer = fmt::basic_memory_buffer<char, 320>;

constexpr std::string_view denied = policy::to_string(policy::outcome::denied);

void append(small_buffer& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// "rule:mode,rule:mode" of the violations found.
void violation_summary(small_buffer& out, const admission::violation_records& violations) {
  for (const auto& v : violations) {
    if (out.size() != 0) out.push_back(',');
    append(out, v.rule);
    out.push_back(':');
    append(out, v.mode);
  }
}

// The first few groups, then how many more: enough to see who asked, short on any cluster.
void group_summary(small_buffer& out, const policy::string_list& groups) {
  constexpr std::size_t max_groups = 4;
  for (std::size_t i = 0; i < groups.size() && i < max_groups; ++i) {
    if (i != 0) out.push_back(',');
    append(out, groups[i]);
  }
  if (groups.size() > max_groups) {
    fmt::format_to(std::back_inserter(out), ",+{}", groups.size() - max_groups);
  }
}

void log_decision(level_enum level, const std::string& webhook,
                  const admission::review_outcome& outcome, double seconds,
                  std::uint64_t suppressed_before) {
  // The JSON Patch as sent (a few operations), cut so a line stays short.
  constexpr std::size_t max_patch = 256;
  small_buffer patch;
  append(patch, std::string_view(outcome.patch).substr(0, max_patch));
  if (outcome.patch.size() > max_patch) append(patch, "...");
  small_buffer violations;
  violation_summary(violations, outcome.violations);
  small_buffer groups;
  group_summary(groups, outcome.groups);
  const std::string_view rule = outcome.violations.empty()
                                    ? std::string_view()
                                    : std::string_view(outcome.violations[0].rule);
  logging::event(level, "admission",
                 {{"webhook", webhook},
                  {"uid", outcome.uid},
                  {"kind", outcome.kind},
                  {"namespace", outcome.namespace_name},
                  {"name", outcome.name},
                  {"operation", outcome.operation},
                  {"user", outcome.user},
                  {"groups", std::string_view(groups.data(), groups.size())},
                  {"dry_run", outcome.dry_run},
                  {"mode", outcome.mode},
                  {"decision", outcome.decision},
                  {"rule", rule},
                  {"violations", std::string_view(violations.data(), violations.size())},
                  {"detail", outcome.detail},
                  {"patch", std::string_view(patch.data(), patch.size())},
                  {"latency_ms", seconds * 1e3},
                  {"suppressed_before", suppressed_before}});
}

}  // namespace

mux::handler_fn webhook_route(std::string name, admission::handler& h, metrics& stats,
                              const mux::denial_fn* on_denial, log_limiter* limiter) {
  metrics::webhook_series& series = stats.webhook(name);  // found once, not per request
  return [name = std::move(name), &h, &stats, &series, on_denial, limiter](
             const http_request& request, http_response& response) {
    if (!is_json_content_type(request.content_type)) {
      response.status = 415;
      response.content_type = text_plain;
      response.body = "Content-Type must be application/json, got ";
      if (request.has_content_type) {
        response.body += '\'';
        response.body += request.content_type;
        response.body += '\'';
      } else {
        response.body += "none";
      }
      return;
    }
    stats.add_in_flight(1);
    const auto start = std::chrono::steady_clock::now();
    // Straight into the connection's write buffer when there is one (no copy of the answer).
    const bool in_place = response.buffer.storage != nullptr;
    admission::answer_buffer out =
        in_place ? response.buffer : admission::answer_buffer{&response.body};
    admission::review_outcome outcome =
        admission::process_review(request.body, h, request.body_padding, out);
    const auto end = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(end - start).count();
    stats.add_in_flight(-1);
    series.observe(outcome.kind, outcome.operation, outcome.decision, seconds);
    for (const auto& v : outcome.violations) stats.count_violation(v.rule, v.mode);
    if (outcome.error.empty()) {
      // Who asked for what and why it was refused: denials (and warn/audit findings) at info
      // behind --log-denies, every other decision at debug.
      const bool refused = !outcome.violations.empty() || outcome.decision == denied;
      const auto level = refused && logging::log_denies() ? level_enum::info : level_enum::debug;
      if (logging::enabled(level)) {
        // Only the info lines are what production logs: debug is asked for, and unbounded.
        const auto v = level == level_enum::info && limiter != nullptr ? limiter->admit(end)
                                                                       : log_limiter::verdict{};
        if (v.write) {
          log_decision(level, name, outcome, seconds, v.suppressed_before);
        } else {
          stats.count_log_line_suppressed();
        }
      }
      // A dry run changes nothing, so it is no event (the API server's audit log has it).
      if (outcome.decision == denied && !outcome.dry_run && on_denial != nullptr && *on_denial)
        (*on_denial)(outcome);
    } else {
      logging::event(level_enum::warn, "admission request rejected",
                     {{"webhook", name},
                      {"uid", outcome.uid},
                      {"code", static_cast<int>(outcome.http_status)},
                      {"error", outcome.error},
                      {"peer", request.peer},
                      {"latency_ms", seconds * 1e3}});
    }
    response.status = outcome.http_status;
    response.content_type = "application/json";
    if (in_place) {
      response.buffer.end = out.end;
      response.in_place = true;
    } else {
      response.body.resize(out.end);
    }
  };
}

}  // namespace mlnetpol::server
