// anyio.Condition for event-loop tasks: wait for a notification while
// temporarily giving up an anyio.Lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

struct ConditionStatistics {
  std::size_t tasks_waiting = 0;
  LockStatistics lock_statistics;
};

// anyio.Condition (anyio 3.6.2, any backend), on its own lock or a given one.
// Like anyio, it remembers the last task that acquired the lock *through the
// condition* and lets only that task notify (anyio never forgets it on
// release()).
//
// Cancelled while waiting in wait(): the task leaves the queue (if it had
// been notified, that notification is consumed, not passed on), then
// re-acquires the lock in a shielded scope, waiting as long as that takes,
// and raises Cancelled holding the lock, so the caller's release() is valid.
// When the simulation is torn down (TaskUnwound) the lock is not re-acquired.
class Condition final : public Waitable {
 public:
  // With no lock, the condition uses its own.
  explicit Condition(Lock* lock = nullptr, std::string name = {});
  ~Condition() override;

  void acquire();
  void acquire_nowait();
  void release();
  bool locked() const { return lock_->locked(); }

  // Wake up to n / all waiters (FIFO). UsageError unless the current task
  // acquired the lock through this condition last (anyio: RuntimeError).
  void notify(std::size_t n = 1);
  void notify_all();
  // Checkpoints, releases the lock, waits for a notification, re-acquires the
  // lock (shielded). Raises UsageError if the current task does not hold the
  // lock (anyio would also leave a dead entry in the queue; this does not).
  void wait();

  ConditionStatistics statistics() const {
    return ConditionStatistics{.tasks_waiting = waiters_.size(), .lock_statistics = lock_->statistics()};
  }

  std::string_view kind() const override { return "anyio.Condition"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<TaskId>& out) const override { lock_->holders(out); }

 private:
  void check_acquired(std::string_view operation) const;
  void wake_one();
  // Condition.acquire() inside CancelScope(shield=True).
  void reacquire_shielded();

  Lock own_lock_;
  Lock* lock_;
  TaskId owner_ = kNoTask;
  WaitQueue waiters_;
  WaitQueue woken_;  // notified, not resumed yet
};

}  // namespace asgisim::sim
