// The task a call comes from, and whether it is a simulated thread: shared by
// threading.cpp and loop_future.cpp. Private to the kernel.
#pragma once

#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim::detail {

// The current task, or nullptr outside a task (no run, or the run's main context).
inline Task* current_task(Simulation* sim) { return sim == nullptr ? nullptr : sim->current_task_or_null(); }

inline bool on_thread(Simulation* sim) {
  Task* task = current_task(sim);
  return task != nullptr && task->domain() == Domain::thread;
}

inline TaskId current_task_id(Simulation* sim) {
  Task* task = current_task(sim);
  return task == nullptr ? kNoTask : task->id();
}

}  // namespace asgisim::sim::detail
