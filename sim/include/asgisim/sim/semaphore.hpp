// anyio.Semaphore for event-loop tasks: a counter with FIFO hand-off to
// waiters, optionally bounded, plus `async with semaphore:` helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "asgisim/sim/event.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

struct SemaphoreStatistics {
  // Tasks in acquire()'s queue (a cancelled waiter stays counted until it resumes).
  std::size_t tasks_waiting = 0;
};

// anyio.Semaphore (anyio 3.6.2, any backend). Holders are not tracked: any
// task may release.
//
// acquire() raises Cancelled at once if the task's scope is already
// cancelled; otherwise a positive value is decremented and the task passes a
// cancel-shielded checkpoint. release() with waiters hands the unit directly
// to the first waiter (FIFO) and leaves the value at 0.
//
// Cancelled while waiting in acquire(): if no unit had been handed to the
// task, it leaves the queue and Cancelled is raised. If release() had already
// handed it a unit (woken, then cancelled before it resumed or during anyio
// Event.wait()'s trailing checkpoint), the task calls release() itself, which
// passes the unit to the next waiter or back to the counter, and Cancelled is
// raised. That release() is the public one: on a bounded semaphore that
// another task over-released meanwhile it raises std::invalid_argument
// instead of Cancelled, exactly as anyio raises ValueError from the except
// block.
class Semaphore final : public Waitable {
 public:
  // Raises std::invalid_argument (Python's ValueError) if max_value < initial_value.
  explicit Semaphore(std::uint64_t initial_value, std::optional<std::uint64_t> max_value = std::nullopt,
                     std::string name = {});
  ~Semaphore() override;

  // Loop side only.
  void acquire();
  // Raises WouldBlock if the value is 0.
  void acquire_nowait();
  // Raises std::invalid_argument ("semaphore released too many times") if
  // the value is already max_value.
  void release();

  std::uint64_t value() const { return value_; }
  std::optional<std::uint64_t> max_value() const { return max_value_; }
  SemaphoreStatistics statistics() const { return SemaphoreStatistics{.tasks_waiting = waiters_.size()}; }

  std::string_view kind() const override { return "anyio.Semaphore"; }
  void append_state(std::string& out) const override;

 private:
  void check_invariants() const;

  // Tasks inside acquire(): queued, or holding a unit but not returned yet
  // (so their clean-up can tell that the semaphore still exists).
  WaitQueue waiters_;
  WaitQueue handed_;
  std::uint64_t value_;
  std::optional<std::uint64_t> max_value_;
};

// `async with semaphore:` as a scope.
class SemaphoreGuard {
 public:
  explicit SemaphoreGuard(Semaphore& semaphore) : semaphore_(semaphore) { semaphore_.acquire(); }
  ~SemaphoreGuard() { semaphore_.release(); }
  SemaphoreGuard(const SemaphoreGuard&) = delete;
  SemaphoreGuard& operator=(const SemaphoreGuard&) = delete;

 private:
  Semaphore& semaphore_;
};

// Runs `fn` while holding one unit of `semaphore`; returns what `fn` returns.
template <class Fn>
decltype(auto) with_semaphore(Semaphore& semaphore, Fn&& fn) {
  SemaphoreGuard guard(semaphore);
  return std::forward<Fn>(fn)();
}

}  // namespace asgisim::sim
