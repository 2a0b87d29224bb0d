// Task groups with anyio semantics: the group's body and its children run in
// one cancel scope; leaving the body waits for every child; the first child
// exception cancels the scope (siblings and body) and surfaces when the group
// is left, bare or as an ExceptionGroup depending on the anyio convention
// (SimulationOptions::task_group_errors).
//
//   task_group([&](TaskGroup& tg) {
//     tg.start_soon("listener", [&] { ... });
//     tg.start_soon("body", [&] { ... });
//   });
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
  std::string state() const override;
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
