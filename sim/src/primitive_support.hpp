// Helpers the loop primitives' .cpp files share (lock, semaphore, capacity
// limiter, condition). Private to the kernel.
//
// A task inside acquire()/wait() is always linked in one of the primitive's
// queues until it returns, unless the primitive was destroyed (teardown), so
// its clean-up tests `waiter.linked` before touching the primitive.
#pragma once

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim::detail {

inline TaskId current_task_id() {
  Simulation* sim = Simulation::current_or_null();
  Task* task = sim != nullptr ? sim->current_task_or_null() : nullptr;
  return task != nullptr ? task->id() : kNoTask;
}

// Moves a served waiter to `handed` and makes its task ready.
inline void hand_to(Simulation& sim, Waiter& waiter, WaitQueue& handed) {
  waiter.handed = true;
  handed.push_back(waiter);
  sim.wake(*waiter.task);
}

}  // namespace asgisim::sim::detail
