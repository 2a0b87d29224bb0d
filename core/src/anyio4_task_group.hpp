// anyio 4's task group (asyncio backend, read at 4.14.2) for the model's own
// task groups, on the kernel's group, whose semantics are anyio 4's: the
// body and the children run in the group's scope, a cancellation reaches the
// children of nested groups too, a host cancelled while it waits for its
// children waits on shielded (#695), the errors are raised as an
// ExceptionGroup that never holds a cancellation, and the group's scope
// swallows its own cancellation only while no enclosing scope is cancelled.
// What asyncio adds, and this class does:
//
// - Callback hops. A child's done callback (task_done: its error cancels the
//   group, and the last one resolves the future the host waits on) runs one
//   loop pass after the child ended, and the host resumes one pass after that.
// - A group left with no child running still passes one shielded checkpoint.
// - A host that starts to wait for its children in a scope already cancelled
//   is cancelled by the scope's next delivery retry (wait_for_children).
// - A child started into a cancelled group first blocks, and is cancelled by
//   the scope's next delivery retry (cancelled_wait_hop, as anyio 3).
//
// The interface is AnyioTaskGroup's (anyio_task_done.hpp), so that the code of
// Starlette's groups is written once for both anyio majors.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "anyio_group_base.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"
#include "python_exceptions.hpp"

namespace asgisim::core::detail {

class Anyio4TaskGroup : public AnyioGroupBase<Anyio4TaskGroup> {
 public:
  explicit Anyio4TaskGroup(sim::TaskGroup& group) : AnyioGroupBase(group) {}

  void cancel() {
    cancel_called_ = true;
    group_.cancel_scope().cancel();
  }

  // The body, then __aexit__'s wait for the children (the kernel's group
  // finds none left, and raises what must be raised).
  template <class Body>
  void run(Body& body) {
    sim::BodyEnd end = sim::BodyEnd::returned;
    std::exception_ptr body_error = raised_by([&] { end = run_group_body(body, *this); });
    if (end == sim::BodyEnd::cancelled) body_error = std::make_exception_ptr(sim::Cancelled{});
    if (body_error && !sim::is_cancellation(body_error)) cancel();
    const bool wait_cancelled = wait_for_children();
    if (body_error) std::rethrow_exception(body_error);
    // `raise exc_val`: the kernel's group swallows it if the cancellation was
    // its own scope's alone, as CancelScope.__exit__ does.
    if (wait_cancelled) throw sim::Cancelled{};
  }

 private:
  // `while self._tasks: await self._on_completed_fut` inside the group's
  // scope, or one shielded checkpoint without children. The first
  // cancellation wakes the host, which then waits on shielded (#695). A host
  // that starts to wait in a scope already cancelled is cancelled by the
  // scope's next delivery retry (call_soon, a pass later) and resumes a pass
  // after that, when the last child's task_done may have run already.
  // Returns whether the wait was cancelled.
  bool wait_for_children() {
    sim::Simulation& simulation = sim::Simulation::current();
    if (live_children_ == 0) {
      simulation.cancel_shielded_checkpoint();
      return false;
    }
    bool cancelled = false;
    while (live_children_ > 0) {
      if (!cancelled && simulation.is_cancelled(simulation.current_task())) {
        simulation.cancel_shielded_checkpoint();  // the delivery retry's pass
        simulation.cancel_shielded_checkpoint();  // the host's wake-up
        cancelled = true;
        continue;
      }
      children_done_.clear();
      if (cancelled) {
        sim::shielded([&] { children_done_.wait(); });
        continue;
      }
      try {
        children_done_.wait();
      } catch (const sim::Cancelled&) {
        cancelled = true;
        cancel();  // self.cancel_scope.cancel()
      }
    }
    return cancelled;
  }

  template <class Fn>
  void run_child(Fn& fn) {
    // task_done runs one pass after the child ended, whatever its end; the
    // last one resolves the future the host waits on.
    struct TaskDone {
      Anyio4TaskGroup& group;
      ~TaskDone() {
        if (--group.live_children_ == 0) group.children_done_.set();
      }
    } task_done{*this};
    const std::exception_ptr error = raised_by(fn);
    sim::Simulation::current().cancel_shielded_checkpoint();
    if (error) std::rethrow_exception(error);  // the kernel's group records it and cancels
  }

  friend class AnyioGroupBase<Anyio4TaskGroup>;

  core::detail::AsyncioEvent children_done_{"anyio task group: children done"};
};

}  // namespace asgisim::core::detail
