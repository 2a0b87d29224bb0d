// anyio.Condition: waiting for a notification while the underlying
// anyio.Lock is given up, and re-acquiring it shielded afterwards.
#include "asgisim/sim/condition.hpp"

#include <fmt/format.h>

#include <exception>
#include <iterator>
#include <string>
#include <string_view>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "primitive_support.hpp"

namespace asgisim::sim {

Condition::Condition(Lock* lock, std::string name)
    : Waitable(std::move(name)), lock_(lock != nullptr ? lock : &own_lock_) {}

Condition::~Condition() {
  detail::unlink_all(waiters_);
  detail::unlink_all(woken_);
}

void Condition::acquire() {
  lock_->acquire();
  owner_ = detail::current_task_id();
}

void Condition::acquire_nowait() {
  lock_->acquire_nowait();
  owner_ = detail::current_task_id();
}

void Condition::release() { lock_->release(); }

void Condition::check_acquired(std::string_view operation) const {
  detail::require_loop_if_in_task(operation);
  if (owner_ == kNoTask || owner_ != detail::current_task_id()) {
    throw UsageError("The current task is not holding the underlying lock");
  }
}

void Condition::wake_one() {
  Waiter* waiter = waiters_.pop_front();
  ASGISIM_ASSERT(waiter != nullptr);
  detail::hand_to(Simulation::current(), *waiter, woken_);
}

void Condition::notify(std::size_t n) {
  check_acquired("anyio.Condition.notify");
  for (std::size_t i = 0; i < n && !waiters_.empty(); ++i) wake_one();
}

void Condition::notify_all() {
  check_acquired("anyio.Condition.notify_all");
  while (!waiters_.empty()) wake_one();
}

void Condition::reacquire_shielded() {
  shielded([this] { acquire(); });
}

void Condition::wait() {
  Simulation& sim = Simulation::current();
  sim.require_domain(Domain::loop, "anyio.Condition.wait");
  sim.checkpoint();
  Waiter waiter{.task = &sim.current_task()};
  if (lock_->owner() != waiter.task->id()) throw UsageError("The current task is not holding this lock");
  waiters_.push_back(waiter);
  release();
  auto leave_queue = [&] {
    if (waiter.linked) (waiter.handed ? woken_ : waiters_).remove(waiter);
  };
  // Never block inside a catch handler: the C++ runtime's caught-exception
  // stack is per OS thread, not per fiber. Keep the exception, leave the
  // handler, re-acquire, rethrow.
  std::exception_ptr cancelled;
  try {
    detail::finish_event_wait(sim, sim.block(*this), /*trailing_checkpoint=*/true);
  } catch (const Cancelled&) {
    cancelled = std::current_exception();
  } catch (...) {
    leave_queue();  // TaskUnwound: teardown, do not wait for the lock again
    throw;
  }
  leave_queue();
  reacquire_shielded();
  if (cancelled) std::rethrow_exception(cancelled);
}

void Condition::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "{} waiting; lock ", waiters_.size());
  lock_->append_state(out);
}

}  // namespace asgisim::sim
