// The one waiting protocol every primitive uses. A task that must wait links a
// Waiter (living on its own stack) into the primitive's WaitQueue and calls
// Simulation::block(). It resumes with a WakeReason: `notified` (the primitive
// unlinked it and handed it what it waited for), `cancelled` (its cancel scope
// was cancelled; the Waiter is still linked and the primitive must unlink it
// and undo nothing else) or `timed_out` (likewise, for a deadline).
//
// A waiter woken by cancellation or a deadline stays linked until its task
// runs again. A notifier that pops it meanwhile gets `false` from
// Simulation::wake() (the task was no longer blocked) and must treat that
// waiter as gone: skip it and serve the next one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/types.hpp"

namespace asgisim::sim {

class Task;
class Simulation;

enum class WakeReason : std::uint8_t { notified = 0, cancelled = 1, timed_out = 2 };

// Anything a task can block on. Knows how to describe itself and who holds
// it, for the deadlock report's wait-for graph.
class Waitable {
 public:
  explicit Waitable(std::string name = {}) : name_(std::move(name)) {}
  Waitable(const Waitable&) = delete;
  Waitable& operator=(const Waitable&) = delete;
  virtual ~Waitable() = default;

  // The primitive's kind as a Python user knows it: "anyio.Lock",
  // "threading.Lock", "MemoryObjectSendStream", ...
  virtual std::string_view kind() const = 0;
  // Extra state worth showing in a report ("3/40 tokens borrowed"), appended
  // to `out`: a block's trace annotation is written in place, so a kept
  // trace does not allocate a string per wait.
  virtual void append_state(std::string& out) const { (void)out; }
  std::string state() const {
    std::string out;
    append_state(out);
    return out;
  }
  // Tasks currently holding the resource (lock owner, limiter borrowers).
  virtual void holders(std::vector<TaskId>& out) const { (void)out; }

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // Sequential id within the run, assigned on first use (deterministic).
  ObjectId object_id(Simulation& sim) const;

 private:
  std::string name_;
  mutable ObjectId id_ = kNoObject;
};

// A node in a WaitQueue; lives on the waiting task's stack while it waits.
struct Waiter {
  Task* task = nullptr;
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  bool linked = false;
  std::uint64_t amount = 0;  // primitive-specific (tokens wanted, ...)
  void* slot = nullptr;      // primitive-specific (where to put a handed-over item)
  bool handed = false;       // primitive-specific (the item was handed over)
};

// Intrusive FIFO of waiters. Never allocates.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  bool empty() const { return head_ == nullptr; }
  std::size_t size() const { return size_; }
  Waiter* front() const { return head_; }

  void push_back(Waiter& w) {
    w.prev = tail_;
    w.next = nullptr;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
    w.linked = true;
    ++size_;
  }
  void remove(Waiter& w) {
    if (!w.linked) return;
    if (w.prev)
      w.prev->next = w.next;
    else
      head_ = w.next;
    if (w.next)
      w.next->prev = w.prev;
    else
      tail_ = w.prev;
    w.prev = w.next = nullptr;
    w.linked = false;
    --size_;
  }
  Waiter* pop_front() {
    Waiter* w = head_;
    if (w) remove(*w);
    return w;
  }
  template <class F>
  void for_each(F&& f) const {
    for (Waiter* w = head_; w; w = w->next) f(*w);
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::size_t size_ = 0;
};

// Unlinks a waiter when the waiting scope is left by an exception.
class WaiterGuard {
 public:
  WaiterGuard(WaitQueue& queue, Waiter& waiter) : queue_(queue), waiter_(waiter) {}
  ~WaiterGuard() { queue_.remove(waiter_); }
  WaiterGuard(const WaiterGuard&) = delete;
  WaiterGuard& operator=(const WaiterGuard&) = delete;

 private:
  WaitQueue& queue_;
  Waiter& waiter_;
};

}  // namespace asgisim::sim
