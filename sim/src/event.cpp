// anyio.Event, and the pieces of anyio's waiting protocol that every loop
// primitive shares (declared in event.hpp): finish_event_wait and friends.
#include "asgisim/sim/event.hpp"

#include <string>
#include <string_view>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/trace.hpp"

namespace asgisim::sim {

namespace detail {

bool event_wait_cancelled(Simulation& sim, WakeReason reason) {
  // Primitives never pass a deadline to block(): timeouts are cancel scopes.
  ASGISIM_ASSERT(reason != WakeReason::timed_out);
  if (reason == WakeReason::cancelled) return true;
  // Woken, but the scope was cancelled before the task resumed: anyio 3's
  // _deliver_cancellation cancels it all the same, and asyncio throws
  // CancelledError into the `await` of the completed future. anyio 4 skips a
  // task whose future is done; it hears of it at its next checkpoint.
  return sim.options().task_group_errors == TaskGroupErrors::anyio3 && sim.is_cancelled(sim.current_task());
}

void finish_event_wait(Simulation& sim, WakeReason reason, bool trailing_checkpoint) {
  if (event_wait_cancelled(sim, reason)) throw Cancelled{};
  // anyio 3's Event.wait checkpoints after a wake-up; anyio 4's does not.
  if (trailing_checkpoint && sim.options().task_group_errors == TaskGroupErrors::anyio3) sim.checkpoint();
}

void require_loop_if_in_task(std::string_view operation) {
  Simulation* sim = Simulation::current_or_null();
  if (sim != nullptr && sim->current_task_or_null() != nullptr) sim->require_domain(Domain::loop, operation);
}

void unlink_all(WaitQueue& queue) {
  while (queue.pop_front() != nullptr) {
  }
}

}  // namespace detail

Event::~Event() { detail::unlink_all(waiters_); }

void Event::set() {
  detail::require_loop_if_in_task("anyio.Event.set");
  if (set_) return;
  set_ = true;
  if (!waiters_.empty()) {
    // asyncio.Event.set() completes every waiter's future; each waiter leaves
    // the list itself when it resumes.
    Simulation& sim = Simulation::current();
    waiters_.for_each([&sim](Waiter& waiter) {
      waiter.handed = true;
      sim.wake(*waiter.task);
    });
  }
  check_invariants();
}

void Event::wait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Event.wait");
  if (set_) {
    sim.checkpoint();
    return;
  }
  Waiter waiter{.task = &sim.current_task()};
  waiters_.push_back(waiter);
  WaiterGuard guard(waiters_, waiter);
  check_invariants();
  detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/false);
  // anyio 3: `if await self._event.wait(): await checkpoint()`; anyio 4 has
  // no checkpoint after a wait.
  if (sim.options().task_group_errors == TaskGroupErrors::anyio3) sim.checkpoint();
}

void Event::append_state(std::string& out) const {
  out.append(set_ ? "set, " : "not set, ");
  append_decimal(out, waiters_.size());
  out.append(" waiting");
}

void Event::check_invariants() const {
  // Waiters queue only while the flag is clear; set() serves them all.
  ASGISIM_ASSERT(waiters_.empty() || set_ == waiters_.front()->handed);
}

}  // namespace asgisim::sim
