// A task of a simulation (a coroutine on the event loop or a simulated OS
// thread, each on a fiber of its own) and the handle that waits for one.
// Tasks are made by Simulation::spawn(); code sees them as Task& (the running
// one: Simulation::current_task()) and TaskHandle.
#pragma once

#include <boost/context/fiber.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/stack_pool.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

class CancelScope;
class Simulation;
class StackAllocatorAdapter;
class TaskGroup;
class TaskHandle;

namespace detail {
class RuntimeHooks;  // detail/runtime_hooks.hpp
class WakeDeferral;
}  // namespace detail

// Whether a task models a coroutine on the event loop or a simulated OS thread.
enum class Domain : std::uint8_t { loop, thread };

// The entry function of a task's fiber (detail/templates.hpp).
template <class Fn>
class TaskEntry;

// Per-task state, owned and recycled by the Simulation. Users see TaskId,
// Task& and TaskHandle.
class Task {
 public:
  TaskId id() const { return id_; }
  const std::string& name() const { return *name_; }
  Domain domain() const { return domain_; }
  bool daemon() const { return daemon_; }
  const Stack& stack() const { return stack_; }

 private:
  friend class Simulation;
  friend class CancelScope;
  friend class TaskGroup;
  friend class TaskHandle;
  friend class StackAllocatorAdapter;
  friend class detail::RuntimeHooks;
  template <class Fn>
  friend class TaskEntry;

  enum class State : std::uint8_t { free, ready, running, blocked, done };

  boost::context::fiber context_;
  Stack stack_;
  TaskId id_ = kNoTask;
  State state_ = State::free;
  Domain domain_ = Domain::loop;
  bool daemon_ = false;
  bool unwind_requested_ = false;
  bool cancellable_wait_ = false;
  bool poller_ = false;                       // see detail::RuntimeHooks::spawn_poller()
  detail::WakeDeferral* deferral_ = nullptr;  // see detail::RuntimeHooks::defer_wakes()
  bool error_retrieved_ = false;
  WakeReason wake_reason_ = WakeReason::notified;
  const std::string* name_ = nullptr;  // interned by the Simulation
  // Cancellation: innermost scope, and this task's links in its task list.
  CancelScope* scope_ = nullptr;
  Task* scope_next_ = nullptr;
  Task* scope_prev_ = nullptr;
  TaskGroup* group_ = nullptr;
  // What the task is blocked on (for the deadlock report).
  const Waitable* waiting_on_ = nullptr;
  std::uint64_t wait_generation_ = 0;
  std::exception_ptr error_;
  WaitQueue joiners_;
  std::uint32_t handles_ = 0;
  std::uint64_t pct_priority_ = 0;
  std::size_t live_index_ = 0;
  void* asan_fake_stack_ = nullptr;
  // The C++ runtime's per-thread exception state (the stack of caught
  // exceptions and the uncaught count), saved while the task is switched
  // out, so that a task may block inside a catch block and still rethrow.
  void* eh_caught_ = nullptr;
  unsigned int eh_uncaught_ = 0;
  // What join() blocks on, so the deadlock report can name the task joined.
  class JoinTarget final : public Waitable {
   public:
    explicit JoinTarget(const Task& task) : task_(task) {}
    std::string_view kind() const override { return "join"; }
    void append_state(std::string& out) const override;
    void holders(std::vector<TaskId>& out) const override { out.push_back(task_.id_); }

   private:
    const Task& task_;
  } join_target_{*this};
};

// A reference to a spawned task that can wait for it. While any handle
// exists, an exception the task raises is kept for join() instead of failing
// the run.
class TaskHandle {
 public:
  TaskHandle() = default;
  TaskHandle(const TaskHandle& other);
  TaskHandle& operator=(TaskHandle other);
  ~TaskHandle();

  TaskId id() const { return id_; }
  bool done() const;
  // Blocks until the task ends; rethrows its exception. Cancellable: on
  // cancellation the task keeps running and Cancelled is raised.
  void join();

 private:
  friend class Simulation;
  TaskHandle(Simulation* sim, Task* task);
  Simulation* sim_ = nullptr;
  Task* task_ = nullptr;
  TaskId id_ = kNoTask;
};

}  // namespace asgisim::sim
