// A run's trace as a text timeline for a terminal (`asgisim replay
// --timeline`): virtual time down the side, one narrow column per task, and
// what happened in words, so a failing interleaving reads top to bottom.
//
//   std::cout << text_timeline(sim.trace(), sim.task_names());
//
//   columns: 1=traffic 2=client-1 3=request 1 4=BaseHTTPMiddleware.call_next
//         time ms            event
//        0.000000  | *       #2 client_sent_request client (request 1)
//        0.000000  | | *     #3 request_started uvicorn (request 1)
//       50.000000  | | | *   #4 background_cancelled BackgroundTask (request 1)
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "asgisim/sim/trace.hpp"

namespace asgisim::scenarios {

struct TimelineOptions {
  // Tasks with an id above this share the last column ("+").
  std::size_t task_columns_max = 16;
  // Rows printed at most; the earliest are dropped (and counted) beyond it.
  std::size_t rows_max = 3'000;
  // Also print scheduling steps (switches, yields, scheduler decisions).
  bool scheduling = false;
};

// The retained records of `trace` as text: a legend naming each column's
// task, then one row per event. `task_names[id]` names task `id`.
std::string text_timeline(const sim::Trace& trace, const std::vector<std::string>& task_names,
                          const TimelineOptions& options = {});

}  // namespace asgisim::scenarios
