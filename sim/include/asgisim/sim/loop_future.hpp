// The two bridges from a simulated thread back to the event loop:
// call_soon_threadsafe() and LoopFuture. Included by threading.hpp.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

namespace detail {
// The simulation for a call that waits on the event loop; throws
// WrongSideError from a simulated thread or outside a task.
Simulation& loop_side(std::string_view operation);
// A thread-side synchronisation point: thread_switch_point() if the caller
// is a simulated thread, nothing otherwise (loop tasks, outside a run).
void thread_sync_point(Simulation* sim);
}  // namespace detail

// loop.call_soon_threadsafe(fn): from a simulated thread, schedules `fn` to run
// on the event loop as a new loop task named "call_soon_threadsafe" (appended
// to the loop's ready queue, so callbacks keep their order under fifo). From a
// loop task it behaves like call_soon. An exception that `fn` raises fails the
// run (asyncio would log it; the model treats it as a bug).
template <class Fn>
void call_soon_threadsafe(Simulation& sim, Fn&& fn);
template <class Fn>
void call_soon_threadsafe(Fn&& fn) {
  call_soon_threadsafe(Simulation::current(), std::forward<Fn>(fn));
}

namespace detail {
// The type-independent half of LoopFuture's shared state.
class LoopFutureCore : public Waitable {
 public:
  explicit LoopFutureCore(std::string name) : Waitable(std::move(name)) {}
  ~LoopFutureCore() override;

  std::string_view kind() const override { return "LoopFuture"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<TaskId>& out) const override;

  // Claims the one-shot result; UsageError if it was already set.
  void claim(std::string_view operation);
  // Completes the future for the loop: at once from a loop task (or outside a
  // task), through a call_soon_threadsafe callback from a thread.
  static void deliver(const std::shared_ptr<LoopFutureCore>& self);
  // Loop side: waits until the future is done; Cancelled if `cancellable`
  // and the caller's scope is cancelled first. Marks the result retrieved.
  void wait_done(Simulation& sim, bool cancellable);

  bool set_called = false;  // set_result/set_exception was called
  bool done = false;        // the loop has seen the result
  bool retrieved = false;   // get() took the result
  TaskId producer = kNoTask;
  std::exception_ptr error;

 private:
  void complete();
  void check_invariants() const;

  WaitQueue waiters_;
};

template <class T>
struct LoopFutureState final : LoopFutureCore {
  using Storage = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  using LoopFutureCore::LoopFutureCore;
  std::optional<Storage> value;
};
}  // namespace detail

// A one-shot result handed from a simulated thread to a loop task, as
// asyncio.wrap_future / run_in_executor do: the thread calls set_result() or
// set_exception(); the loop sees it only when a call_soon_threadsafe callback
// has run (one loop step later), then the waiting task is woken (one more).
// Set from a loop task, the future completes at once. A LoopFuture is a cheap
// shared handle: copy it into the thread's body.
//
// get() is for loop tasks (WrongSideError from a thread) and has one
// consumer: it moves the result out, and a second get() raises UsageError.
// With `cancellable` (the default) a cancelled scope interrupts the wait with
// Cancelled and the result stays in the future; without it the wait is
// shielded (anyio's to_thread.run_sync waits this way): it ends only when the
// result arrives, and the cancellation is raised at the next checkpoint.
// A result that is already there is returned at once, without a checkpoint
// (like awaiting a done asyncio future).
template <class T>
class LoopFuture {
 public:
  using Storage = typename detail::LoopFutureState<T>::Storage;

  explicit LoopFuture(std::string name = {})
      : state_(std::make_shared<detail::LoopFutureState<T>>(std::move(name))) {}

  // Any side; a second set raises UsageError (asyncio's InvalidStateError).
  void set_result(Storage value) requires(!std::is_void_v<T>) { set(std::move(value)); }
  void set_result() requires(std::is_void_v<T>) { set(Storage{}); }
  void set_exception(std::exception_ptr error);

  // Loop side only. Returns the result or rethrows the exception.
  T get(bool cancellable = true);

  // True once the loop has seen the result (after the callback ran).
  bool done() const { return state_->done; }
  // The thread expected to set the result, for the deadlock report.
  void set_producer(TaskId producer) { state_->producer = producer; }
  const Waitable& waitable() const { return *state_; }

 private:
  void set(Storage value);

  std::shared_ptr<detail::LoopFutureState<T>> state_;
};

// ---- template definitions ---------------------------------------------------

template <class Fn>
void call_soon_threadsafe(Simulation& sim, Fn&& fn) {
  sim.spawn("call_soon_threadsafe", std::forward<Fn>(fn),
            SpawnOptions{.daemon = false, .domain = Domain::loop});
  detail::thread_sync_point(&sim);
}

template <class T>
void LoopFuture<T>::set(Storage value) {
  state_->claim("LoopFuture.set_result");
  state_->value.emplace(std::move(value));
  detail::LoopFutureCore::deliver(state_);
}

template <class T>
void LoopFuture<T>::set_exception(std::exception_ptr error) {
  if (!error) throw UsageError("LoopFuture.set_exception() needs an exception");
  state_->claim("LoopFuture.set_exception");
  state_->error = std::move(error);
  detail::LoopFutureCore::deliver(state_);
}

template <class T>
T LoopFuture<T>::get(bool cancellable) {
  Simulation& sim = detail::loop_side("LoopFuture.get");
  state_->wait_done(sim, cancellable);
  ASGISIM_ASSERT(state_->done && state_->retrieved);
  ASGISIM_ASSERT(state_->value.has_value() != (state_->error != nullptr));
  if (state_->error) std::rethrow_exception(state_->error);
  if constexpr (!std::is_void_v<T>) {
    T result = std::move(*state_->value);
    state_->value.reset();
    return result;
  }
}

}  // namespace asgisim::sim
