// anyio.Event for event-loop tasks, and the few pieces of anyio's waiting
// protocol that every loop primitive (lock, semaphore, limiter, stream) shares.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

class Simulation;

namespace detail {

// What the rest of anyio's Event.wait() does once Simulation::block() has
// returned: raise Cancelled if the wait was cancelled, or if the task was
// woken but its scope was cancelled before it resumed (asyncio then throws
// CancelledError into the `await`); otherwise run the trailing checkpoint of
// anyio.Event.wait() when `trailing_checkpoint` is set (primitives built on
// asyncio.Event, like the asyncio CapacityLimiter, have none). Under anyio 4
// (SimulationOptions::task_group_errors) neither the raise after a wake-up
// (the cancellation waits for the next checkpoint) nor that checkpoint.
void finish_event_wait(Simulation& sim, WakeReason reason, bool trailing_checkpoint);

// finish_event_wait() without a trailing checkpoint, with the cancellation as
// a value: true where finish_event_wait() would raise Cancelled. For the
// waits whose callers can pass a cancellation on without unwinding (the
// server's receive, core::receive_or_cancelled()).
[[nodiscard]] bool event_wait_cancelled(Simulation& sim, WakeReason reason);

// For synchronous operations that may wake tasks (set, release, close):
// raises WrongSideError when called from a simulated thread. Code outside any
// task (setup before run(), inspection after it) is allowed: nothing can be
// waiting then.
void require_loop_if_in_task(std::string_view operation);

// Unlinks every waiter, so that a waiting task being unwound after the
// primitive was destroyed (simulation teardown) does not touch freed memory.
void unlink_all(WaitQueue& queue);

}  // namespace detail

struct EventStatistics {
  // Tasks blocked in wait(), including woken ones that have not resumed yet
  // (asyncio removes a waiter's future only when its task runs again).
  std::size_t tasks_waiting = 0;
};

// anyio.Event (asyncio backend, anyio 3.6.2): a flag that is set once and
// never cleared. set() wakes every waiter in the order they started waiting.
//
// Cancelled while waiting in wait(): Cancelled is raised and nothing else
// changes. If set() had already woken the task but its scope was cancelled
// before it resumed, wait() raises Cancelled too (the flag stays set; a later
// wait() returns after one checkpoint). Under anyio 4
// (SimulationOptions::task_group_errors) a woken wait() returns without the
// checkpoint after it, and such a cancellation waits for the task's next
// checkpoint.
class Event final : public Waitable {
 public:
  explicit Event(std::string name = {}) : Waitable(std::move(name)) {}
  ~Event() override;

  // Sets the flag and wakes every waiter. Loop side only.
  void set();
  bool is_set() const { return set_; }
  // Blocks until the flag is set, then checkpoints (so waiting on an event
  // that is already set is still a checkpoint, and raises Cancelled inside a
  // cancelled scope). Loop side only.
  void wait();

  EventStatistics statistics() const { return EventStatistics{.tasks_waiting = waiters_.size()}; }

  std::string_view kind() const override { return "anyio.Event"; }
  void append_state(std::string& out) const override;

 private:
  void check_invariants() const;

  WaitQueue waiters_;
  bool set_ = false;
};

}  // namespace asgisim::sim
