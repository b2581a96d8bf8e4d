#pragma once
// Shared by the libFuzzer targets: a per-input CPU time budget (libFuzzer's -timeout counts whole
// seconds of wall time; the budget here is milliseconds) and a check for duplicate member names.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace mlnetpol::fuzz {

// CPU time of this thread: other processes on a busy machine do not count against an input.
inline double thread_cpu_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// MLNETPOL_FUZZ_SLOW_MS (unset: no budget): the CPU time an input of up to 4 KiB may take; a bigger
// input gets that much per started 4 KiB, so linear code passes at any size and super-linear code
// is caught once inputs grow (a sanitizer build costs ~1.5 ms per KiB of review, as it happens).
// An input over budget is run twice more and, if the fastest of the three runs is still over,
// reported as a crash so libFuzzer keeps it as an artifact. passes: how many times the code under
// test reads the whole input by design (the budget is per pass).
inline void run_within_budget(std::size_t size, const std::function<void()>& run,
                              unsigned passes = 1) {
  static const long per_4k_ms = [] {
    const char* text = std::getenv("MLNETPOL_FUZZ_SLOW_MS");
    return text == nullptr ? 0L : std::strtol(text, nullptr, 10);
  }();
  const double budget =
      static_cast<double>(per_4k_ms) * static_cast<double>(size / 4096 + 1) * passes;
  double best = 1e9;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const double start = thread_cpu_ms();
    run();
    best = std::min(best, thread_cpu_ms() - start);
    if (per_4k_ms <= 0 || best <= budget) return;
  }
  std::fprintf(stderr, "==mlnetpol== slow input: %.1f ms for %zu bytes (budget %.0f ms)\n", best,
               size, budget);
  std::abort();
}

// True when some object in value repeats a member name. JSON Pointer cannot address the second of
// two equal names, so patch invariants hold only for objects without them (the API server never
// sends any). Iterative.
inline bool has_duplicate_names(const rapidjson::Value& value) {
  std::vector<const rapidjson::Value*> pending{&value};
  while (!pending.empty()) {
    const rapidjson::Value* v = pending.back();
    pending.pop_back();
    if (v->IsArray()) {
      for (const auto& item : v->GetArray()) pending.push_back(&item);
    } else if (v->IsObject()) {
      std::vector<std::string_view> names;
      for (const auto& m : v->GetObject()) {
        names.emplace_back(m.name.GetString(), m.name.GetStringLength());
        pending.push_back(&m.value);
      }
      std::sort(names.begin(), names.end());
      if (std::adjacent_find(names.begin(), names.end()) != names.end()) return true;
    }
  }
  return false;
}

// A failed invariant: a message and abort(), which libFuzzer reports with the input.
[[noreturn]] inline void invariant_failed(const char* what, std::string_view detail) {
  std::fprintf(stderr, "==mlnetpol== invariant failed: %s\n%.*s\n", what,
               static_cast<int>(std::min<std::size_t>(detail.size(), 4000)), detail.data());
  std::abort();
}

}  // namespace mlnetpol::fuzz
