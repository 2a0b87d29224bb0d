// Helpers the loop primitives' .cpp files share (lock, semaphore, capacity
// limiter, condition): anyio's hand-off protocol. Private to the kernel.
//
// A task inside acquire()/wait() is always linked in one of the primitive's
// queues until it returns, unless the primitive was destroyed (teardown), so
// its clean-up tests `waiter.linked` before touching the primitive.
#pragma once

#include "asgisim/sim/event.hpp"
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

// The path of an acquire() that took the primitive at once (anyio's
// `else: await cancel_shielded_checkpoint()`): `waiter` waits in `handed` for
// one cancel-shielded checkpoint; a task leaving it with an exception (only on
// teardown) gives the primitive back through `give_back`.
template <class CheckInvariants, class GiveBack>
void checkpoint_after_taking(Simulation& sim, Waiter& waiter, WaitQueue& handed,
                             CheckInvariants check_invariants, GiveBack give_back) {
  waiter.handed = true;
  handed.push_back(waiter);
  check_invariants();
  try {
    sim.cancel_shielded_checkpoint();
  } catch (...) {
    if (waiter.linked) {  // else the primitive is gone (teardown)
      handed.remove(waiter);
      give_back();
    }
    throw;
  }
  handed.remove(waiter);
  check_invariants();
}

// acquire() of anyio.Lock and anyio.Semaphore (asyncio backend), once the
// caller has tried to take the primitive (`taken`): a task that took it
// passes one cancel-shielded checkpoint; one that did not waits in `waiters`
// until release() serves it (hand_to moves it to `handed`), then passes the
// trailing checkpoint of Event.wait(). Cancelled while queued, it leaves the
// queue; leaving with an exception after it was served, it gives the
// primitive back through `give_back` (anyio's release() in the except
// clause). `check_invariants` runs after every change of the queues.
template <class CheckInvariants, class GiveBack>
void acquire_with_hand_off(Simulation& sim, const Waitable& primitive, WaitQueue& waiters, WaitQueue& handed,
                           bool taken, CheckInvariants check_invariants, GiveBack give_back) {
  Waiter waiter{.task = &sim.current_task()};
  if (taken) {
    checkpoint_after_taking(sim, waiter, handed, check_invariants, give_back);
    return;
  }
  waiters.push_back(waiter);
  check_invariants();
  try {
    finish_event_wait(sim, sim.block(primitive), /*trailing_checkpoint=*/true);
  } catch (...) {
    if (!waiter.linked) throw;  // the primitive is gone (teardown)
    if (!waiter.handed) {
      waiters.remove(waiter);
      check_invariants();
    } else {
      handed.remove(waiter);
      give_back();
    }
    throw;
  }
  handed.remove(waiter);
  check_invariants();
}

}  // namespace asgisim::sim::detail
