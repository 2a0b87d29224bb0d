// Export of a run's trace to the Chrome trace-event JSON format, so that a
// failing run opens as a swimlane timeline (one row per task) in Perfetto or
// chrome://tracing.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "asgisim/sim/trace.hpp"

namespace asgisim::sim {

struct ChromeTraceOptions {
  // Shown as the process row's name in the viewer.
  std::string process_name = "asgisim";
  // Copied into the file's "otherData" (scenario, configuration, seed, ...),
  // next to the trace hash and whether the ring dropped older records.
  std::map<std::string, std::string> metadata;
};

// The retained records of `trace` as trace-event JSON. `task_names[id]` names
// task `id` (index 0 is the run's main context, "main" when missing or
// empty). Each task is one thread row; the time a task runs, from its
// switch_to to the next switch_to or its own block/finish, is an "X" slice;
// every other record is an instant event whose args hold the exact virtual
// time_ns. Display timestamps are virtual time plus 1 ns per exported record,
// so that steps taking no virtual time stay visible and ordered.
std::string chrome_trace_json(const Trace& trace, const std::vector<std::string>& task_names,
                              const ChromeTraceOptions& options = {});

// Writes chrome_trace_json() to `path`; throws std::runtime_error naming the
// path when it cannot be written.
void write_chrome_trace(const std::filesystem::path& path, const Trace& trace,
                        const std::vector<std::string>& task_names, const ChromeTraceOptions& options = {});

}  // namespace asgisim::sim
