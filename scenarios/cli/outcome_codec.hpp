// A run's outcome as bytes and back: what an --isolate worker process sends
// its parent through a pipe. Binary (lengths and raw bytes), so every string
// (reports, traces, labels) comes back exactly as it was.
//
//   std::string bytes = encode_outcome(run_seed(scenario, config, 7, settings));
//   scenarios::RunOutcome same = decode_outcome(bytes);   // throws std::runtime_error if cut short
#pragma once

#include <string>
#include <string_view>

#include "asgisim/scenarios/engine.hpp"

namespace asgisim::cli {

// A failing run whole; a passing run (whose outcome a sweep keeps nothing of
// but its class) without its decision log, violations, trace and timeline.
std::string encode_outcome(const scenarios::RunOutcome& outcome);
// Throws std::runtime_error when `bytes` is truncated or malformed. A run's
// exception (RunResult::error) comes back as a std::runtime_error with the
// same message.
scenarios::RunOutcome decode_outcome(std::string_view bytes);

}  // namespace asgisim::cli
