// Template definitions for simulation.hpp, cancel.hpp and task_group.hpp.
// Included at the end of simulation.hpp; not meant to be included directly.
#pragma once

#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

namespace asgisim::sim {

// Lends a pooled stack to boost::context::fiber and records it in the task.
class StackAllocatorAdapter {
 public:
  StackAllocatorAdapter(Simulation& sim, Task& task) : sim_(&sim), task_(&task) {}
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& context) noexcept;

 private:
  Simulation* sim_;
  Task* task_;
  Stack stack_;
};

// The entry function of a task's fiber. The callable lives in the fiber's
// control record at the top of the task's own stack: spawning allocates no
// heap memory for it.
template <class Fn>
class TaskEntry {
 public:
  TaskEntry(Simulation& sim, Task& task, Fn&& fn) : sim_(&sim), task_(&task), fn_(std::move(fn)) {}

  boost::context::fiber operator()(boost::context::fiber&& caller) {
    Simulation& sim = *sim_;
    Task* task = task_;
    sim.enter_task(task, std::move(caller));
    std::exception_ptr error;
    if (!task->unwind_requested_) {
      // Move the callable onto this frame so that its captures are destroyed
      // here, on the task's own stack, before the task ends.
      Fn body(std::move(fn_));
      try {
        body();
      } catch (const TaskUnwound&) {
      } catch (const boost::context::detail::forced_unwind&) {
        throw;
      } catch (...) {
        error = std::current_exception();
      }
    }
    return sim.finish_task(task, std::move(error));
  }

 private:
  Simulation* sim_;
  Task* task_;
  Fn fn_;
};

template <class Fn>
TaskHandle Simulation::spawn(std::string name, Fn&& fn, SpawnOptions options) {
  return spawn_task(std::move(name), std::forward<Fn>(fn), options, /*poller=*/false);
}

template <class Fn>
TaskHandle Simulation::spawn_task(std::string name, Fn&& fn, SpawnOptions options, bool poller) {
  using Body = std::decay_t<Fn>;
  static_assert(std::is_invocable_v<Body&>, "a task body is a callable taking no arguments");
  Task* task = allocate_task(std::move(name), options, poller);
  task->context_ = boost::context::fiber(std::allocator_arg, StackAllocatorAdapter(*this, *task),
                                         TaskEntry<Body>(*this, *task, Body(std::forward<Fn>(fn))));
  make_ready(task);
  return TaskHandle(this, task);
}

template <class Fn>
TaskHandle Simulation::spawn_thread(std::string name, Fn&& fn, bool daemon) {
  return spawn(std::move(name), std::forward<Fn>(fn),
               SpawnOptions{.daemon = daemon, .domain = Domain::thread});
}

template <class Body>
bool cancel_scope(Body&& body, Nanoseconds deadline_ns, bool shield) {
  Simulation& sim = Simulation::current();
  CancelScope scope(sim, &sim.current_task(), deadline_ns, shield);
  BodyEnd end = BodyEnd::returned;
  try {
    if constexpr (std::is_invocable_r_v<BodyEnd, Body&, CancelScope&>) {
      end = body(scope);
    } else if constexpr (std::is_invocable_v<Body&, CancelScope&>) {
      body(scope);
    } else if constexpr (std::is_invocable_r_v<BodyEnd, Body&>) {
      end = body();
    } else {
      body();
    }
  } catch (const Cancelled&) {
    if (scope.exit(true)) return true;
    throw;
  } catch (...) {
    scope.exit(false);
    throw;
  }
  if (end == BodyEnd::cancelled) {
    if (scope.exit(true)) return true;
    throw Cancelled{};  // an enclosing scope's cancellation: raised on, as the catch above does
  }
  scope.exit(false);
  return false;
}

template <class Body>
bool move_on_after(Nanoseconds delay_ns, Body&& body) {
  const Nanoseconds now = Simulation::current().now();
  const Nanoseconds deadline = delay_ns >= kNoDeadline - now ? kNoDeadline : now + delay_ns;
  return cancel_scope(std::forward<Body>(body), deadline, false);
}

template <class Body>
void fail_after(Nanoseconds delay_ns, Body&& body) {
  if (move_on_after(delay_ns, std::forward<Body>(body))) throw TimeoutError("fail_after: deadline exceeded");
}

template <class Body>
void shielded(Body&& body) {
  cancel_scope(std::forward<Body>(body), kNoDeadline, true);
}

template <class Fn>
void TaskGroup::start_soon(std::string name, Fn&& fn) {
  using Body = std::decay_t<Fn>;
  TaskHandle handle = sim_.spawn(std::move(name), Body(std::forward<Fn>(fn)), SpawnOptions{});
  sim_.adopt_into_group(*this, handle);
}

template <class Body>
void task_group(Body&& body) {
  Simulation& sim = Simulation::current();
  TaskGroup group(sim);
  std::exception_ptr body_error;
  try {
    body(group);
  } catch (...) {
    body_error = std::current_exception();
  }
  group.finish(std::move(body_error));
}

}  // namespace asgisim::sim
