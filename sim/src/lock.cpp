// anyio.Lock: an owned, non-reentrant mutex handed straight to the longest
// waiter on release.
#include "asgisim/sim/lock.hpp"

#include <string>
#include <vector>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/trace.hpp"
#include "primitive_support.hpp"

namespace asgisim::sim {

Lock::~Lock() {
  detail::unlink_all(waiters_);
  detail::unlink_all(handed_);
}

void Lock::acquire() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Lock.acquire");
  Task& me = sim.current_task();
  sim.checkpoint_if_cancelled();
  if (owner_ == me.id()) throw UsageError("Attempted to acquire an already held Lock");
  const bool free = owner_ == kNoTask;
  if (free) owner_ = me.id();
  detail::acquire_with_hand_off(
      sim, *this, waiters_, handed_, free, [this] { check_invariants(); },
      [this, &sim, &me] {
        // Handed the lock but leaving with an exception: pass it on.
        if (owner_ == me.id()) hand_over(sim);
      });
  ASGISIM_ASSERT(owner_ == me.id(), "task #{} left acquire() without the lock (owner #{})", me.id(), owner_);
}

void Lock::acquire_nowait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Lock.acquire_nowait");
  const TaskId me = sim.current_task().id();
  if (owner_ == me) throw UsageError("Attempted to acquire an already held Lock");
  if (owner_ != kNoTask) throw WouldBlock();
  owner_ = me;
  check_invariants();
}

void Lock::release() {
  detail::require_loop_if_in_task("anyio.Lock.release");
  if (owner_ == kNoTask || owner_ != detail::current_task_id()) {
    throw UsageError("The current task is not holding this lock");
  }
  hand_over(Simulation::current());
}

void Lock::hand_over(Simulation& sim) {
  if (Waiter* next = waiters_.pop_front()) {
    owner_ = next->task->id();
    detail::hand_to(sim, *next, handed_);
  } else {
    owner_ = kNoTask;
  }
  check_invariants();
}

void Lock::append_state(std::string& out) const {
  out.append(owner_ == kNoTask ? "unlocked, " : "locked, ");
  append_decimal(out, waiters_.size());
  out.append(" waiting");
}

void Lock::holders(std::vector<TaskId>& out) const {
  if (owner_ != kNoTask) out.push_back(owner_);
}

void Lock::check_invariants() const {
  // release() hands the lock straight to the first waiter: a free lock has no queue.
  ASGISIM_ASSERT(owner_ != kNoTask || (waiters_.empty() && handed_.empty()));
  // Only the owner can be on its way out of acquire() with the lock.
  ASGISIM_ASSERT(handed_.size() <= 1);
  ASGISIM_ASSERT(handed_.empty() || handed_.front()->task->id() == owner_);
}

}  // namespace asgisim::sim
