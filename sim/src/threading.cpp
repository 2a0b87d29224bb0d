// Blocking primitives for simulated OS threads (threading, queue, time.sleep).
// See threading.hpp for the semantics.
#include "asgisim/sim/threading.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "asgisim/sim/assert.hpp"
#include "calling_task.hpp"

namespace asgisim::sim {

namespace detail {

namespace {

Nanoseconds deadline_after(Nanoseconds now_ns, Nanoseconds timeout_ns) {
  ASGISIM_ASSERT(now_ns >= 0);
  if (timeout_ns == kWaitForever) return kNoDeadline;
  ASGISIM_ASSERT(timeout_ns > 0);
  return timeout_ns >= kNoDeadline - now_ns ? kNoDeadline : now_ns + timeout_ns;
}

// Queues `waiter` and blocks its thread on `on` until a release or put()
// serves it (serve_waiter()) or the timeout passes. True if it was served: a
// hand-off that raced with the timeout still counts.
bool wait_in_queue(Simulation& sim, const Waitable& on, WaitQueue& queue, Waiter& waiter,
                   Nanoseconds timeout_ns) {
  ASGISIM_ASSERT(!waiter.linked && !waiter.handed);
  {
    WaiterGuard guard(queue, waiter);
    queue.push_back(waiter);
    block_thread(sim, on, timeout_ns);
  }
  ASGISIM_ASSERT(!waiter.linked);
  return waiter.handed;
}

// Serves a waiter just popped from its queue: marks it and wakes its thread.
void serve_waiter(Simulation* sim, Waiter& waiter) {
  ASGISIM_ASSERT(sim != nullptr && !waiter.linked && !waiter.handed && waiter.task != nullptr);
  waiter.handed = true;
  sim->wake(*waiter.task, WakeReason::notified);
}

}  // namespace

Simulation& thread_side(std::string_view operation) {
  Simulation& sim = Simulation::current();
  Task* task = sim.current_task_or_null();
  if (task == nullptr) {
    throw WrongSideError(
        fmt::format("{}() called outside a simulated task: call it from a simulated thread", operation));
  }
  if (task->domain() != Domain::thread) {
    throw WrongSideError(fmt::format(
        "{}() would block the event loop: call it from a simulated thread (task '{}' is a loop task; only "
        "non-blocking calls such as release, set, put and get_nowait work on the loop)",
        operation, task->name()));
  }
  return sim;
}

void check_timeout(std::string_view operation, bool blocking, Nanoseconds timeout_ns) {
  if (!blocking && timeout_ns != kWaitForever) {
    throw UsageError(fmt::format("{}(): can't specify a timeout for a non-blocking call", operation));
  }
  if (timeout_ns < 0 && timeout_ns != kWaitForever) {
    throw UsageError(
        fmt::format("{}(): timeout must be non-negative or kWaitForever, got {} ns", operation, timeout_ns));
  }
}

WakeReason block_thread(Simulation& sim, const Waitable& on, Nanoseconds timeout_ns) {
  ASGISIM_ASSERT(on_thread(&sim));
  const Nanoseconds deadline_ns = deadline_after(sim.now(), timeout_ns);
  const WakeReason reason = sim.block(on, deadline_ns, /*cancellable=*/false);
  // Threads have no cancel scopes: only a wake or the deadline ends the wait.
  // An uncancellable block() answers `cancelled` only while the run tears
  // down its remaining tasks (from a destructor on an unwinding stack); the
  // wait then ends as if it had timed out, since nothing can wake it anymore.
  if (reason == WakeReason::cancelled) return WakeReason::timed_out;
  ASGISIM_ASSERT(reason != WakeReason::timed_out || (deadline_ns != kNoDeadline && sim.now() >= deadline_ns));
  return reason;
}

// ---- SimpleQueueBase -------------------------------------------------------

SimpleQueueBase::~SimpleQueueBase() {
  // A getter still linked would resume into a destroyed queue.
  ASGISIM_ASSERT(getters_.empty());
}

void SimpleQueueBase::describe(std::string& out, std::size_t items) const {
  fmt::format_to(std::back_inserter(out), "{} item{}, {} getter{} waiting", items, items == 1 ? "" : "s",
                 getters_.size(), getters_.size() == 1 ? "" : "s");
}

bool SimpleQueueBase::wait_for_item(Simulation& sim, Waiter& waiter, Nanoseconds timeout_ns) {
  ASGISIM_ASSERT(waiter.slot != nullptr);
  // A put() that raced with the timeout still handed its item over: keep it.
  return wait_in_queue(sim, *this, getters_, waiter, timeout_ns);
}

void SimpleQueueBase::hand_over(Waiter& waiter) { serve_waiter(&Simulation::current(), waiter); }

}  // namespace detail

// ---- ThreadLock ------------------------------------------------------------

ThreadLock::ThreadLock(std::string name) : Waitable(std::move(name)) {}

ThreadLock::~ThreadLock() { ASGISIM_ASSERT(waiters_.empty()); }

bool ThreadLock::acquire(bool blocking, Nanoseconds timeout_ns) {
  detail::check_timeout("threading.Lock.acquire", blocking, timeout_ns);
  const bool may_block = blocking && timeout_ns != 0;
  Simulation* sim =
      may_block ? &detail::thread_side("threading.Lock.acquire") : Simulation::current_or_null();
  detail::thread_sync_point(sim);
  check_invariants();
  if (!locked_) {
    locked_ = true;
    owner_ = detail::current_task_id(sim);
    check_invariants();
    return true;
  }
  if (!may_block) return false;
  Waiter waiter{.task = &sim->current_task()};
  // release() hands the lock over; one that raced with the timeout still did.
  if (detail::wait_in_queue(*sim, *this, waiters_, waiter, timeout_ns)) {
    ASGISIM_ASSERT(locked_ && owner_ == waiter.task->id());
    return true;
  }
  check_invariants();
  return false;
}

void ThreadLock::release() {
  check_invariants();
  if (!locked_) throw UsageError(fmt::format("threading.Lock.release(): release unlocked lock {}", name()));
  Simulation* sim = Simulation::current_or_null();
  if (Waiter* next = waiters_.pop_front()) {
    owner_ = next->task->id();
    detail::serve_waiter(sim, *next);
  } else {
    locked_ = false;
    owner_ = kNoTask;
  }
  check_invariants();
  detail::thread_sync_point(sim);
}

void ThreadLock::append_state(std::string& out) const {
  if (!locked_) {
    out.append("unlocked");
    return;
  }
  fmt::format_to(std::back_inserter(out), "locked by task {}, {} waiting", owner_, waiters_.size());
}

void ThreadLock::holders(std::vector<TaskId>& out) const {
  if (locked_ && owner_ != kNoTask) out.push_back(owner_);
}

void ThreadLock::check_invariants() const {
  ASGISIM_ASSERT(locked_ || waiters_.empty());
  ASGISIM_ASSERT(locked_ || owner_ == kNoTask);
}

// ---- ThreadSemaphore -------------------------------------------------------

ThreadSemaphore::ThreadSemaphore(std::uint64_t value, std::string name)
    : ThreadSemaphore(value, std::move(name), false) {}

ThreadSemaphore::ThreadSemaphore(std::uint64_t value, std::string name, bool bounded)
    : Waitable(std::move(name)), value_(value), initial_value_(value), bounded_(bounded) {
  check_invariants();
}

ThreadSemaphore::~ThreadSemaphore() { ASGISIM_ASSERT(waiters_.empty()); }

bool ThreadSemaphore::acquire(bool blocking, Nanoseconds timeout_ns) {
  detail::check_timeout("threading.Semaphore.acquire", blocking, timeout_ns);
  const bool may_block = blocking && timeout_ns != 0;
  Simulation* sim =
      may_block ? &detail::thread_side("threading.Semaphore.acquire") : Simulation::current_or_null();
  detail::thread_sync_point(sim);
  check_invariants();
  if (value_ > 0) {
    --value_;
    take_unit(detail::current_task_id(sim));
    check_invariants();
    return true;
  }
  if (!may_block) return false;
  Waiter waiter{.task = &sim->current_task(), .amount = 1};
  // release() hands a unit over; one that raced with the timeout still did.
  const bool handed = detail::wait_in_queue(*sim, *this, waiters_, waiter, timeout_ns);
  check_invariants();
  return handed;
}

void ThreadSemaphore::release(std::uint64_t n) {
  check_invariants();
  if (n == 0) throw UsageError("threading.Semaphore.release(): n must be one or more");
  if (bounded_ && (value_ > initial_value_ || n > initial_value_ - value_)) {
    throw UsageError(
        fmt::format("threading.BoundedSemaphore.release(): semaphore {} released too many times", name()));
  }
  Simulation* sim = Simulation::current_or_null();
  const TaskId releaser = detail::current_task_id(sim);
  for (std::uint64_t i = 0; i < n; ++i) {
    retire_holder(releaser);
    if (Waiter* next = waiters_.pop_front()) {
      // Waiters exist only while the value is 0: the unit goes to the waiter.
      ASGISIM_ASSERT(value_ == 0 && next->amount == 1);
      take_unit(next->task->id());
      detail::serve_waiter(sim, *next);
    } else {
      ++value_;
    }
    check_invariants();
  }
  detail::thread_sync_point(sim);
}

void ThreadSemaphore::take_unit(TaskId task) {
  if (task != kNoTask) holders_.push_back(task);
}

void ThreadSemaphore::retire_holder(TaskId releaser) {
  if (holders_.empty()) return;
  auto it = std::find(holders_.begin(), holders_.end(), releaser);
  holders_.erase(it != holders_.end() ? it : holders_.begin());
}

void ThreadSemaphore::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "value {}/{}, {} waiting", value_, initial_value_, waiters_.size());
}

void ThreadSemaphore::holders(std::vector<TaskId>& out) const {
  for (TaskId task : holders_) {
    if (std::find(out.begin(), out.end(), task) == out.end()) out.push_back(task);
  }
}

void ThreadSemaphore::check_invariants() const {
  ASGISIM_ASSERT(value_ == 0 || waiters_.empty());
  ASGISIM_ASSERT(!bounded_ || value_ <= initial_value_);
  ASGISIM_ASSERT(!bounded_ || holders_.size() <= initial_value_ - value_);
}

// ---- ThreadEvent -----------------------------------------------------------

ThreadEvent::ThreadEvent(std::string name) : Waitable(std::move(name)) {}

ThreadEvent::~ThreadEvent() { ASGISIM_ASSERT(waiters_.empty()); }

void ThreadEvent::set() {
  check_invariants();
  Simulation* sim = Simulation::current_or_null();
  flag_ = true;
  while (Waiter* waiter = waiters_.pop_front()) detail::serve_waiter(sim, *waiter);
  check_invariants();
  detail::thread_sync_point(sim);
}

void ThreadEvent::clear() {
  Simulation* sim = Simulation::current_or_null();
  detail::thread_sync_point(sim);
  flag_ = false;
  check_invariants();
}

bool ThreadEvent::wait(Nanoseconds timeout_ns) {
  detail::check_timeout("threading.Event.wait", true, timeout_ns);
  Simulation* sim =
      timeout_ns != 0 ? &detail::thread_side("threading.Event.wait") : Simulation::current_or_null();
  detail::thread_sync_point(sim);
  check_invariants();
  if (flag_) return true;
  if (timeout_ns == 0) return false;
  Waiter waiter{.task = &sim->current_task()};
  const bool handed = detail::wait_in_queue(*sim, *this, waiters_, waiter, timeout_ns);
  check_invariants();
  return handed;
}

void ThreadEvent::append_state(std::string& out) const {
  fmt::format_to(std::back_inserter(out), "{}, {} waiting", flag_ ? "set" : "not set", waiters_.size());
}

void ThreadEvent::check_invariants() const { ASGISIM_ASSERT(!flag_ || waiters_.empty()); }

// ---- time.sleep ------------------------------------------------------------

namespace {
// What a sleeping thread waits on, for traces and reports.
class ThreadSleep final : public Waitable {
 public:
  explicit ThreadSleep(Nanoseconds until_ns) : until_ns_(until_ns) {}
  std::string_view kind() const override { return "time.sleep"; }
  void append_state(std::string& out) const override {
    fmt::format_to(std::back_inserter(out), "until {} ns", until_ns_);
  }

 private:
  Nanoseconds until_ns_;
};
}  // namespace

void thread_sleep(Nanoseconds duration_ns) {
  Simulation& sim = detail::thread_side("time.sleep");
  if (duration_ns < 0) throw UsageError("time.sleep(): sleep length must be non-negative");
  if (duration_ns == 0) {
    // time.sleep(0) only lets other threads run.
    sim.thread_switch_point();
    return;
  }
  const Nanoseconds until_ns = detail::deadline_after(sim.now(), duration_ns);
  ThreadSleep sleeping(until_ns);
  const WakeReason reason = detail::block_thread(sim, sleeping, duration_ns);
  // Nothing else knows this waitable: only the deadline (or the run's
  // teardown, which block_thread reports as a timeout) ends the sleep.
  ASGISIM_ASSERT(reason == WakeReason::timed_out);
}

}  // namespace asgisim::sim
