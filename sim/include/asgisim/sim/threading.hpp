// Blocking primitives for simulated OS threads, modelled on Python's
// `threading`, `queue` and `time.sleep`. The two bridges from a thread back to
// the event loop, call_soon_threadsafe() and LoopFuture, are in
// loop_future.hpp, which this header includes.
//
// Sides. A simulated thread (Simulation::spawn_thread, Domain::thread) may
// block without holding the event loop. Every call here that can block is for
// threads only: from a loop task it raises WrongSideError, because in Python it
// would freeze the whole loop. A call that cannot block (release, set, put,
// get_nowait, acquire(false), a zero timeout) works from any side. The other
// way round, the loop's primitives (anyio-style Lock, Event, Semaphore,
// CapacityLimiter, memory object streams, cancel scopes, task groups and
// LoopFuture::get) are for loop tasks only; a thread hands work to the loop
// with call_soon_threadsafe() or a LoopFuture.
//
// Cancellation. Threads have no cancel scopes and cannot be cancelled: a
// thread's wait ends only when it is notified or its timeout expires. Every
// timeout is virtual time; `kWaitForever` (-1, Python's None) waits forever.
//
// Scheduling. Every thread-side synchronisation point (acquire, release, set,
// clear, wait, put, get, sleep, call_soon_threadsafe) is a scheduling point
// (Simulation::thread_switch_point): under `fifo` a thread runs until it
// blocks; under `random` and `pct` the scheduler may switch there. Waits take
// the point before they look at the state, signals after they change it.
//
// Fairness. CPython's locks promise no order among waiters; the model hands a
// released lock, semaphore unit or queued item straight to the longest waiter,
// one legal outcome that keeps runs reproducible.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/loop_future.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

// Python's `timeout=None` (or Lock's -1): wait until notified.
inline constexpr Nanoseconds kWaitForever = -1;

// queue.Empty: get_nowait() on an empty queue, or get() whose timeout expired.
class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("queue.Empty") {}
};

namespace detail {
// The simulation for a call that may block a simulated thread; throws
// WrongSideError (naming `operation`) from a loop task or outside a task.
Simulation& thread_side(std::string_view operation);
// (loop_side() and thread_sync_point() are declared in loop_future.hpp.)
// Throws UsageError for a timeout Python would reject (ValueError).
void check_timeout(std::string_view operation, bool blocking, Nanoseconds timeout_ns);
// Blocks the current simulated thread on `on` until woken or until
// `timeout_ns` (> 0 or kWaitForever) has passed: `notified` or `timed_out`.
WakeReason block_thread(Simulation& sim, const Waitable& on, Nanoseconds timeout_ns);
}  // namespace detail

// threading.Lock. acquire() blocks a thread until the lock is free; with a
// timeout it returns false once the timeout expires (never raises). Not owner
// checked (any side may release), as in Python, but the owner is recorded for
// the deadlock report; a thread acquiring a lock it holds deadlocks, as in
// Python. Releasing an unlocked lock raises UsageError.
class ThreadLock final : public Waitable {
 public:
  explicit ThreadLock(std::string name = {});
  ~ThreadLock() override;

  // Blocking from threads only; acquire(false) or a zero timeout anywhere.
  bool acquire(bool blocking = true, Nanoseconds timeout_ns = kWaitForever);
  void release();
  bool locked() const { return locked_; }
  // The task that acquired the lock last (kNoTask if free or taken outside a task).
  TaskId owner() const { return owner_; }
  std::size_t waiting() const { return waiters_.size(); }

  std::string_view kind() const override { return "threading.Lock"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<TaskId>& out) const override;

 private:
  void check_invariants() const;

  WaitQueue waiters_;
  bool locked_ = false;
  TaskId owner_ = kNoTask;
};

// threading.Semaphore. acquire() blocks a thread while the value is 0; with a
// timeout it returns false once the timeout expires. release(n) hands units to
// the longest waiters first. Threads cannot be cancelled while waiting.
// holders() lists the tasks that took a unit and have not given one back
// (best effort: Python does not track this; a release by a non-holder
// retires the oldest holder).
class ThreadSemaphore : public Waitable {
 public:
  explicit ThreadSemaphore(std::uint64_t value = 1, std::string name = {});
  ~ThreadSemaphore() override;

  // Blocking from threads only; acquire(false) or a zero timeout anywhere.
  bool acquire(bool blocking = true, Nanoseconds timeout_ns = kWaitForever);
  // Any side. n must be at least 1.
  void release(std::uint64_t n = 1);
  std::uint64_t value() const { return value_; }
  std::size_t waiting() const { return waiters_.size(); }

  std::string_view kind() const override { return "threading.Semaphore"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<TaskId>& out) const override;

 protected:
  ThreadSemaphore(std::uint64_t value, std::string name, bool bounded);

 private:
  void take_unit(TaskId task);
  void retire_holder(TaskId releaser);
  void check_invariants() const;

  WaitQueue waiters_;
  std::uint64_t value_;
  std::uint64_t initial_value_;
  bool bounded_;
  std::vector<TaskId> holders_;  // in acquisition order
};

// threading.BoundedSemaphore: a release that would raise the value above its
// initial value raises UsageError (Python's ValueError).
class ThreadBoundedSemaphore final : public ThreadSemaphore {
 public:
  explicit ThreadBoundedSemaphore(std::uint64_t value = 1, std::string name = {})
      : ThreadSemaphore(value, std::move(name), true) {}
  std::string_view kind() const override { return "threading.BoundedSemaphore"; }
};

// threading.Event. wait() blocks a thread until the flag is set and returns
// true, or returns false once the timeout expires. A thread woken by set()
// returns true even if the flag was cleared again before it ran (as in
// Python). set() and clear() work from any side. Threads cannot be cancelled.
class ThreadEvent final : public Waitable {
 public:
  explicit ThreadEvent(std::string name = {});
  ~ThreadEvent() override;

  void set();
  void clear();
  bool is_set() const { return flag_; }
  // Blocking from threads only; wait(0) polls from any side.
  bool wait(Nanoseconds timeout_ns = kWaitForever);
  std::size_t waiting() const { return waiters_.size(); }

  std::string_view kind() const override { return "threading.Event"; }
  void append_state(std::string& out) const override;

 private:
  void check_invariants() const;

  WaitQueue waiters_;
  bool flag_ = false;
};

// time.sleep() on a simulated thread: the thread blocks for `duration_ns` of
// virtual time and nothing can wake it early (threads cannot be cancelled).
// sleep(0) is only a scheduling point. From a loop task: WrongSideError.
void thread_sleep(Nanoseconds duration_ns);

namespace detail {
// The item-independent half of SimpleQueue.
class SimpleQueueBase : public Waitable {
 public:
  std::string_view kind() const override { return "queue.SimpleQueue"; }
  std::size_t getters_waiting() const { return getters_.size(); }

 protected:
  explicit SimpleQueueBase(std::string name) : Waitable(std::move(name)) {}
  ~SimpleQueueBase() override;
  void describe(std::string& out, std::size_t items) const;
  // Waits (thread side) until put() hands this getter an item; false on timeout.
  bool wait_for_item(Simulation& sim, Waiter& waiter, Nanoseconds timeout_ns);
  // Wakes `waiter`, into whose slot put() has just moved an item.
  static void hand_over(Waiter& waiter);

  WaitQueue getters_;
};
}  // namespace detail

// queue.SimpleQueue: an unbounded FIFO. put() never blocks and works from any
// side (the loop feeding a worker thread); it hands the item straight to the
// longest-waiting getter. get() blocks a thread until an item arrives and
// raises QueueEmpty once its timeout expires (threads cannot be cancelled).
// get_nowait() works from any side and raises QueueEmpty when empty.
template <class T>
class SimpleQueue final : public detail::SimpleQueueBase {
 public:
  explicit SimpleQueue(std::string name = {}) : SimpleQueueBase(std::move(name)) {}

  void put(T item);
  // Blocking from threads only; get(0) works from any side.
  T get(Nanoseconds timeout_ns = kWaitForever);
  T get_nowait();
  std::size_t qsize() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  void append_state(std::string& out) const override { describe(out, items_.size()); }

 private:
  void check_invariants() const {
    // An item is handed to a waiting getter at once, never left queued.
    ASGISIM_ASSERT(items_.empty() || getters_.empty());
  }

  std::deque<T> items_;
};

// ---- template definitions ---------------------------------------------------

template <class T>
void SimpleQueue<T>::put(T item) {
  Simulation* sim = Simulation::current_or_null();
  check_invariants();
  if (Waiter* getter = getters_.pop_front()) {
    auto* slot = static_cast<std::optional<T>*>(getter->slot);
    ASGISIM_ASSERT(slot != nullptr && !slot->has_value());
    slot->emplace(std::move(item));
    hand_over(*getter);
  } else {
    items_.push_back(std::move(item));
  }
  check_invariants();
  detail::thread_sync_point(sim);
}

template <class T>
T SimpleQueue<T>::get(Nanoseconds timeout_ns) {
  detail::check_timeout("queue.SimpleQueue.get", true, timeout_ns);
  if (timeout_ns == 0) return get_nowait();
  Simulation& sim = detail::thread_side("queue.SimpleQueue.get");
  sim.thread_switch_point();
  check_invariants();
  if (!items_.empty()) {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  std::optional<T> slot;
  Waiter waiter{.task = &sim.current_task(), .slot = &slot};
  if (!wait_for_item(sim, waiter, timeout_ns)) throw QueueEmpty();
  ASGISIM_ASSERT(slot.has_value());
  return std::move(*slot);
}

template <class T>
T SimpleQueue<T>::get_nowait() {
  detail::thread_sync_point(Simulation::current_or_null());
  check_invariants();
  if (items_.empty()) throw QueueEmpty();
  T item = std::move(items_.front());
  items_.pop_front();
  return item;
}

}  // namespace asgisim::sim
