// What Simulation::run() returns: how the run ended, and for a failed run,
// the report and who waited on what.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/types.hpp"

namespace asgisim::sim {

enum class RunStatus : std::uint8_t {
  not_run,
  completed,          // every non-daemon task finished
  deadlock,           // tasks blocked, nothing ready, no timer pending
  liveness_steps,     // the step budget ran out
  liveness_time,      // the virtual-time budget ran out
  task_error,         // a task raised and nobody could receive the exception
  replay_divergence,  // a strict replay met a decision it cannot answer
  abandoned,          // SimulationOptions::abandon was set (an interrupted sweep)
  escaped,            // code under test left the simulation (Simulation::stop_escaped)
};
std::string_view to_string(RunStatus status);

// One blocked task in a deadlock report's wait-for graph.
struct BlockedTask {
  TaskId task = kNoTask;
  std::string task_name;
  bool daemon = false;
  bool thread = false;
  std::string waits_on;  // "anyio.Lock 'db' #3 (state)"
  ObjectId object = kNoObject;
  std::vector<TaskId> held_by;
};

struct RunResult {
  RunStatus status = RunStatus::not_run;
  // Plain-text explanation for any status but `completed`.
  std::string report;
  std::uint64_t trace_hash = 0;
  std::uint64_t steps = 0;
  Nanoseconds end_time_ns = 0;
  std::exception_ptr error;          // for task_error
  std::vector<BlockedTask> blocked;  // for deadlock / liveness: who waits on what
  bool ok() const { return status == RunStatus::completed; }
};

}  // namespace asgisim::sim
