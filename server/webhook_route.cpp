#include "server/webhook_route.hpp"

#include <chrono>

#include "common/obs/logging.hpp"
#include "server/http_parser.hpp"
#include "server/metrics.hpp"

namespace mlnetpol::server {

namespace logging = obs::logging;
using spdlog::level::level_enum;

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
        admission::review_outcome outcome = admission::process_review(request.body, h);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        stats.add_in_flight(-1);
        stats.observe_admission(name, outcome.kind, outcome.operation, outcome.decision, seconds);
        for (const auto& v : outcome.violations) stats.count_violation(v.rule, v.mode);
        if (outcome.error.empty()) {
          if (logging::enabled(level_enum::info)) {
            logging::event(level_enum::info, "admission",
                           {{"webhook", name},
                            {"uid", outcome.uid},
                            {"kind", outcome.kind},
                            {"namespace", outcome.namespace_name},
                            {"name", outcome.name},
                            {"operation", outcome.operation},
                            {"decision", outcome.decision},
                            {"latency_ms", seconds * 1e3}});
          }
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
