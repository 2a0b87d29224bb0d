// The kernel's task groups, with trio's and anyio 4's semantics: the group's
// body and its children run in one cancel scope; leaving the body waits for
// every child; the first child exception cancels the scope (siblings and
// body) and surfaces when the group is left, bare or as an ExceptionGroup
// (SimulationOptions::task_group_errors, the group's one anyio-version
// setting). A cancellation reaches every task inside the scope, the children
// of nested groups included, and a scope swallows its own cancellation.
//
//   task_group([&](TaskGroup& tg) {
//     tg.start_soon("listener", [&] { ... });
//     tg.start_soon("body", [&] { ... });
//   });
//
// anyio 3 (asyncio backend) is modelled once, in core: AnyioTaskGroup
// (core/src/anyio_task_done.hpp) is the only anyio 3 task group, built on
// this one. Why no reach policy here: anyio 3 differs in more than reach
// (delivery retries queued with call_soon, the hops of done callbacks, a
// walk up _parent_scope past shields), and all of it is asyncio's event
// loop, not structured concurrency. A policy would split that model between
// two layers and put asyncio's loop into the kernel; instead the kernel
// gives core the few hooks it needs (detail/runtime_hooks.hpp).
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

class TaskGroup final : public Waitable {
 public:
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Starts a child task inside the group's cancel scope. `fn` is a callable
  // with no arguments.
  template <class Fn>
  void start_soon(std::string name, Fn&& fn);

  CancelScope& cancel_scope() { return scope_; }

  std::string_view kind() const override { return "TaskGroup"; }
  void append_state(std::string& out) const override;
  void holders(std::vector<TaskId>& out) const override;

 private:
  template <class Body>
  friend void task_group(Body&& body);
  friend class Simulation;

  explicit TaskGroup(Simulation& sim);
  ~TaskGroup() override;
  void child_finished(Task* child, std::exception_ptr error);
  // Waits for all children, leaves the scope, raises what must be raised.
  void finish(std::exception_ptr body_error);

  Simulation& sim_;
  CancelScope scope_;
  std::size_t live_children_ = 0;
  std::vector<TaskId> children_;
  std::vector<std::exception_ptr> errors_;
  WaitQueue host_waiting_;
};

template <class Body>
void task_group(Body&& body);

}  // namespace asgisim::sim
