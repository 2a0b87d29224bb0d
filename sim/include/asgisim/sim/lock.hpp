// anyio.Lock for event-loop tasks: an owned, non-reentrant mutex that hands
// itself to the longest waiter on release, plus `async with lock:` helpers.
//
//   with_lock(lock, [&] { ... });         // async with lock: ...
//   { LockGuard guard(lock); ... }
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/sim/event.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

struct LockStatistics {
  bool locked = false;
  // The task holding the lock, kNoTask if none.
  TaskId owner = kNoTask;
  // Tasks in acquire()'s queue (a cancelled waiter stays counted until it resumes).
  std::size_t tasks_waiting = 0;
};

// anyio.Lock (anyio 3.6.2, any backend).
//
// acquire() raises Cancelled at once if the task's scope is already
// cancelled; otherwise a free lock is taken and the task passes a
// cancel-shielded checkpoint. release() hands the lock directly to the first
// waiter (FIFO): the lock never becomes free while someone waits, so a task
// calling acquire_nowait() in between gets WouldBlock.
//
// Cancelled while waiting in acquire(): if the lock had not been handed to the
// task, it leaves the queue and Cancelled is raised. If release() had already
// handed it the lock (the task was woken, then its scope was cancelled before
// it resumed, or during anyio Event.wait()'s trailing checkpoint), the task
// releases it again, which hands it to the next waiter, and Cancelled is
// raised: the lock is never lost and never held by a task that did not get
// past acquire().
class Lock final : public Waitable {
 public:
  explicit Lock(std::string name = {}) : Waitable(std::move(name)) {}
  ~Lock() override;

  // Loop side only. Raises UsageError if the current task already holds it
  // (anyio: RuntimeError "Attempted to acquire an already held Lock").
  void acquire();
  // Raises WouldBlock if another task holds the lock.
  void acquire_nowait();
  // Raises UsageError unless the current task holds the lock (anyio:
  // RuntimeError "The current task is not holding this lock").
  void release();

  bool locked() const { return owner_ != kNoTask; }
  TaskId owner() const { return owner_; }
  LockStatistics statistics() const {
    return LockStatistics{.locked = locked(), .owner = owner_, .tasks_waiting = waiters_.size()};
  }

  std::string_view kind() const override { return "anyio.Lock"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<TaskId>& out) const override;

 private:
  // The second half of release(): the first waiter becomes the owner.
  void hand_over(Simulation& sim);
  void check_invariants() const;

  // Tasks inside acquire(): queued, or owning the lock but not returned yet
  // (so their clean-up can tell that the lock still exists).
  WaitQueue waiters_;
  WaitQueue handed_;
  TaskId owner_ = kNoTask;
};

// `async with lock:` as a scope: acquires in the constructor, releases in the
// destructor (also when the scope is left by an exception, like __aexit__).
class LockGuard {
 public:
  explicit LockGuard(Lock& lock) : lock_(lock) { lock_.acquire(); }
  ~LockGuard() { lock_.release(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& lock_;
};

// Runs `fn` while holding `lock`; returns what `fn` returns.
template <class Fn>
decltype(auto) with_lock(Lock& lock, Fn&& fn) {
  LockGuard guard(lock);
  return std::forward<Fn>(fn)();
}

}  // namespace asgisim::sim
