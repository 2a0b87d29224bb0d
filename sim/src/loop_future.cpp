// The two bridges from a simulated thread back to the event loop: the side
// checks they use and LoopFuture's type-independent core.
#include "asgisim/sim/loop_future.hpp"

#include <fmt/format.h>

#include "asgisim/sim/assert.hpp"
#include "calling_task.hpp"

namespace asgisim::sim {

namespace detail {

Simulation& loop_side(std::string_view operation) {
  Simulation& sim = Simulation::current();
  Task* task = sim.current_task_or_null();
  if (task == nullptr) {
    throw WrongSideError(
        fmt::format("{}() called outside a simulated task: call it from an event-loop task", operation));
  }
  if (task->domain() != Domain::loop) {
    throw WrongSideError(fmt::format(
        "{}() waits on the event loop and cannot be used from simulated thread '{}': loop primitives "
        "(anyio locks, events, semaphores, limiters, streams, cancel scopes, task groups, LoopFuture.get) "
        "are "
        "for loop tasks; hand work to the loop with call_soon_threadsafe()",
        operation, task->name()));
  }
  return sim;
}

void thread_sync_point(Simulation* sim) {
  if (on_thread(sim)) sim->thread_switch_point();
}

// ---- LoopFutureCore --------------------------------------------------------

LoopFutureCore::~LoopFutureCore() { ASGISIM_ASSERT(waiters_.empty()); }

void LoopFutureCore::append_state(std::string& out) const {
  if (!set_called) {
    out.append("pending");
  } else if (!done) {
    out.append(error ? "exception set by the thread, not yet delivered to the loop"
                     : "result set by the thread, not yet delivered to the loop");
  } else if (retrieved) {
    out.append("done, retrieved");
  } else {
    out.append(error ? "done (exception)" : "done (result)");
  }
}

void LoopFutureCore::holders(std::vector<TaskId>& out) const {
  if (!set_called && producer != kNoTask) out.push_back(producer);
}

void LoopFutureCore::claim(std::string_view operation) {
  check_invariants();
  if (set_called) throw UsageError(fmt::format("{}(): the LoopFuture's result is already set", operation));
  set_called = true;
}

void LoopFutureCore::deliver(const std::shared_ptr<LoopFutureCore>& self) {
  ASGISIM_ASSERT(self != nullptr && self->set_called && !self->done);
  Simulation* sim = Simulation::current_or_null();
  if (!on_thread(sim)) {
    // A loop task (or setup code outside a task) completes the future directly.
    self->complete();
    return;
  }
  // asyncio: the concurrent future's done-callback calls
  // loop.call_soon_threadsafe(_set_state); the waiter wakes one hop later.
  call_soon_threadsafe(*sim, [state = self] { state->complete(); });
}

void LoopFutureCore::complete() {
  ASGISIM_ASSERT(set_called && !done);
  done = true;
  Simulation* sim = Simulation::current_or_null();
  while (Waiter* waiter = waiters_.pop_front()) {
    ASGISIM_ASSERT(sim != nullptr && !waiter->handed);
    waiter->handed = true;
    sim->wake(*waiter->task, WakeReason::notified);
  }
  check_invariants();
}

void LoopFutureCore::wait_done(Simulation& sim, bool cancellable) {
  check_invariants();
  if (retrieved)
    throw UsageError("LoopFuture.get(): the result was already retrieved (a LoopFuture has one consumer)");
  if (!waiters_.empty())
    throw UsageError("LoopFuture.get(): another task is already waiting (a LoopFuture has one consumer)");
  if (!done) {
    Waiter waiter{.task = &sim.current_task()};
    WakeReason reason = WakeReason::notified;
    {
      WaiterGuard guard(waiters_, waiter);
      waiters_.push_back(waiter);
      reason = sim.block(*this, kNoDeadline, cancellable);
    }
    (void)reason;
    ASGISIM_ASSERT(!waiter.linked);
    // A completion that raced with the cancellation is kept: the result is
    // returned and the cancellation is raised at the next checkpoint.
    if (!waiter.handed) {
      ASGISIM_ASSERT(reason == WakeReason::cancelled && !done);
      // Uncancellable waits end early only while the run tears down.
      if (!cancellable) throw TaskUnwound();
      throw Cancelled();
    }
  }
  ASGISIM_ASSERT(done);
  retrieved = true;
  check_invariants();
}

void LoopFutureCore::check_invariants() const {
  ASGISIM_ASSERT(!done || set_called);
  ASGISIM_ASSERT(!retrieved || done);
  ASGISIM_ASSERT(waiters_.size() <= 1);
  ASGISIM_ASSERT(!done || waiters_.empty());
}

}  // namespace detail

}  // namespace asgisim::sim
