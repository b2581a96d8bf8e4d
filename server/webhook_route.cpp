#include "server/webhook_route.hpp"

#include <chrono>

#include "common/obs/logging.hpp"
#include "server/http_parser.hpp"
#include "server/metrics.hpp"

namespace mlnetpol::server {

namespace logging = obs::logging;
using spdlog::level::level_enum;

namespace {

// "rule:mode,rule:mode" of the violations found.
std::string violation_summary(const std::vector<admission::violation_record>& violations) {
  std::string out;
  for (const auto& v : violations) {
    if (!out.empty()) out += ',';
    out += v.rule;
    out += ':';
    out += v.mode;
  }
  return out;
}

void log_decision(level_enum level, const std::string& webhook,
                  const admission::review_outcome& outcome, double seconds) {
  // The JSON Patch as sent (a few operations), cut so a line stays short.
  constexpr std::size_t max_patch = 256;
  std::string patch = outcome.patch.substr(0, max_patch);
  if (outcome.patch.size() > max_patch) patch += "...";
  logging::event(level, "admission",
                 {{"webhook", webhook},
                  {"uid", outcome.uid},
                  {"kind", outcome.kind},
                  {"namespace", outcome.namespace_name},
                  {"name", outcome.name},
                  {"operation", outcome.operation},
                  {"user", outcome.user},
                  {"dry_run", outcome.dry_run},
                  {"decision", outcome.decision},
                  {"violations", violation_summary(outcome.violations)},
                  {"patch", patch},
                  {"latency_ms", seconds * 1e3}});
}

}  // namespace

mux::handler_fn webhook_route(std::string name, admission::handler& h, metrics& stats) {
  return
      [name = std::move(name), &h, &stats](const http_request& request, http_response& response) {
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
        admission::review_outcome outcome =
            admission::process_review(request.body, h, request.body_padding);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        stats.add_in_flight(-1);
        stats.observe_admission(name, outcome.kind, outcome.operation, outcome.decision, seconds);
        for (const auto& v : outcome.violations) stats.count_violation(v.rule, v.mode);
        if (outcome.error.empty()) {
          // Who asked for what and why it was refused: denials (and warn/audit findings) at info
          // behind --log-denies, every other decision at debug.
          const bool refused = !outcome.violations.empty() || outcome.decision == "denied";
          const auto level = refused && logging::log_denies()
                                 ? level_enum::info
                                 : level_enum::debug;
          if (logging::enabled(level)) log_decision(level, name, outcome, seconds);
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
        response.body = std::move(outcome.body);
      };
}

}  // namespace mlnetpol::server
