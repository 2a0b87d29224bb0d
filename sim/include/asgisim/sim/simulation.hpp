// One deterministic run: owns the virtual clock, the scheduler, the choice
// source, the decision log and the trace. No globals: two Simulations may run
// at once on two OS threads. Inside a run, code finds its Simulation through
// Simulation::current() (like asyncio.get_running_loop()).
//
//   Simulation sim({.seed = 42, .strategy = Strategy::random});
//   sim.spawn("client", [&] { ... sleep(5 * kMillisecond); ... });
//   RunResult result = sim.run();
//
// This is the API a scenario and a primitive use. A model layer that builds
// a runtime of its own on the kernel (core's anyio 3 model) also uses the
// hooks in detail/runtime_hooks.hpp (Simulation::runtime_hooks()).
#pragma once

#include <boost/context/fiber.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/extensions.hpp"
#include "asgisim/sim/ready_queue.hpp"
#include "asgisim/sim/run_result.hpp"
#include "asgisim/sim/stack_pool.hpp"
#include "asgisim/sim/task.hpp"
#include "asgisim/sim/task_group.hpp"
#include "asgisim/sim/trace.hpp"
#include "asgisim/sim/types.hpp"
#include "asgisim/sim/wait.hpp"

namespace asgisim::sim {

namespace detail {
class RuntimeHooks;
}  // namespace detail

enum class Strategy : std::uint8_t {
  fifo,    // asyncio's order: ready tasks first-in first-out; threads first
  random,  // uniform choice among ready tasks at every switch
  pct,     // probabilistic concurrency testing (random priorities, depth-1 change points)
};
std::string_view to_string(Strategy strategy);
bool parse_strategy(std::string_view text, Strategy& out);

// How the kernel's TaskGroup raises its children's exceptions: its one
// anyio-version setting (its semantics otherwise are trio's and anyio 4's;
// see task_group.hpp). The model reads it as the anyio major in general:
// anyio.Event's wait (event.hpp) and core's task groups follow it too.
enum class TaskGroupErrors : std::uint8_t {
  anyio3,  // one exception raised bare, several as an ExceptionGroup
  anyio4,  // always an ExceptionGroup
};

struct SimulationOptions {
  // Seeds the default choice source (ignored when a source is supplied).
  std::uint64_t seed = 0;
  // How the next ready task is picked at each switch.
  Strategy strategy = Strategy::fifo;
  // PCT bug depth d: d-1 priority change points per run.
  std::uint32_t pct_depth = 3;
  // PCT's estimate of a run's length in steps (change points fall below it).
  std::uint64_t pct_steps_estimate = 2'000;
  // Liveness budgets: exceeding either stops the run.
  std::uint64_t steps_max = 50'000'000;
  Nanoseconds time_max_ns = 3'600 * kSecond;
  // Task-group exception convention.
  TaskGroupErrors task_group_errors = TaskGroupErrors::anyio3;
  // Whether buggify() fault sites may fire at all.
  bool buggify_enabled = true;
  // Trace retention (the hash is always computed).
  TraceOptions trace = {};
  // Records every decision in the decision log (needed for replay/shrink).
  bool record_decisions = true;
  // Set from outside the run (a signal handler's flag): the run stops with
  // RunStatus::abandoned. Polled with one relaxed load every 1024 steps;
  // never changes a run it does not stop.
  const std::atomic<bool>* abandon = nullptr;
};

struct SpawnOptions {
  // Daemons (an idle pool worker, a keep-alive connection waiting for its
  // next request) do not keep the run alive and are not reported as
  // deadlocked; they are unwound when the run ends.
  bool daemon = false;
  Domain domain = Domain::loop;
};

class Simulation {
 public:
  explicit Simulation(SimulationOptions options = {});
  // Uses `source` for every decision instead of the seeded generator; the
  // source must outlive the run.
  Simulation(SimulationOptions options, ChoiceSource& source);
  Simulation(SimulationOptions options, ChoiceSource* source, Runner& runner);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // The simulation running on this OS thread; throws WrongSideError outside a run.
  static Simulation& current();
  static Simulation* current_or_null();

  // ---- tasks ---------------------------------------------------------------
  template <class Fn>
  TaskHandle spawn(std::string name, Fn&& fn, SpawnOptions options = {});
  // A simulated OS thread (Domain::thread).
  template <class Fn>
  TaskHandle spawn_thread(std::string name, Fn&& fn, bool daemon = false);

  // Runs until every non-daemon task has finished or the run fails. Call once.
  RunResult run();

  Task& current_task();
  Task* current_task_or_null() { return current_ == &main_ ? nullptr : current_; }
  void set_daemon(Task& task, bool daemon);

  // ---- time and checkpoints -----------------------------------------------
  Nanoseconds now() const { return now_ns_; }
  // anyio's checkpoint(): yield to the scheduler, then raise Cancelled if the
  // task's scope is cancelled.
  void checkpoint();
  void checkpoint_if_cancelled();
  void cancel_shielded_checkpoint();
  // Suspends the current task for `delay_ns` of virtual time. Cancellable
  // (loop tasks); a simulated thread sleeps uninterruptibly (time.sleep).
  void sleep(Nanoseconds delay_ns);
  void sleep_until(Nanoseconds deadline_ns);
  // A scheduling point of a simulated thread: under fifo the thread keeps
  // running (it runs until it blocks); under random/pct it is a choice.
  void thread_switch_point();

  // ---- the waiting protocol (for primitives) ------------------------------
  // Blocks the current task on `on` until wake(), cancellation (if
  // `cancellable`) or the absolute deadline. Returns at once with
  // `cancelled` if the task is already inside a cancelled scope.
  WakeReason block(const Waitable& on, Nanoseconds deadline_ns = kNoDeadline, bool cancellable = true);
  // Makes a blocked task ready; it resumes from block() with `reason`.
  // Returns false (and does nothing) if the task was not blocked, e.g.
  // because a cancellation or deadline already woke it.
  bool wake(Task& task, WakeReason reason = WakeReason::notified);
  bool is_cancelled(const Task& task) const;
  // Code under test left the simulation (a real thread blocked outside it, a
  // real socket): the run stops with RunStatus::escaped and `report` before
  // the next task is picked. Never switches, so that it can be called with
  // foreign frames (Python's) on the current stack; the first failure wins.
  void stop_escaped(std::string report);
  // Throws WrongSideError unless the current task is in `domain`.
  void require_domain(Domain domain, std::string_view operation);

  // ---- choices and faults -------------------------------------------------
  // A value in [0, n) from the choice source, recorded in the decision log.
  // n <= 1 is answered 0 without a decision.
  std::uint64_t choose(Label where, std::uint64_t n);
  // A fault site (FoundationDB's BUGGIFY): swarm-style, each site is enabled
  // for the whole run with probability 1/2 on first use; an enabled site
  // fires with `probability`.
  bool buggify(Label site, double probability);

  // ---- trace ----------------------------------------------------------------
  Trace& trace() { return trace_; }
  void note(std::string_view what, std::uint64_t value = 0);
  std::uint64_t trace_hash() const { return trace_.hash(); }
  const DecisionLog& decisions() const { return log_; }
  DecisionLog& decisions() { return log_; }
  // Names of every task ever spawned, by id (index 0 is the main context).
  std::vector<std::string> task_names() const;
  const std::string& task_name(TaskId id) const;

  const SimulationOptions& options() const { return options_; }
  std::uint64_t steps() const { return steps_; }

  // ---- per-run state of the layers above -------------------------------------
  // The T attached to this run, value-initialised on first use and destroyed
  // with the Simulation (extensions.hpp): where a layer built on the kernel
  // keeps state per run, never in a global or a thread_local.
  template <class T>
  T& extension() {
    return extensions_.get<T>();
  }
  template <class T>
  T* find_extension() {
    return extensions_.find<T>();
  }

  // The hooks for a model layer that implements a runtime on the kernel
  // (defined in detail/runtime_hooks.hpp, which its users include).
  detail::RuntimeHooks runtime_hooks();

 private:
  friend class StackAllocatorAdapter;
  friend class TaskGroup;
  friend class TaskHandle;
  friend class CancelScope;
  friend class Waitable;
  friend class detail::RuntimeHooks;
  struct Timer {
    Nanoseconds deadline_ns;
    std::uint64_t sequence;
    Task* task;  // wake this task (if its wait_generation matches) ...
    std::uint64_t generation;
    std::uint64_t scope_id;  // ... or cancel this scope (if non-zero and still live)
    bool operator>(const Timer& other) const {
      return deadline_ns != other.deadline_ns ? deadline_ns > other.deadline_ns : sequence > other.sequence;
    }
  };

  template <class Fn>
  friend class TaskEntry;
  // spawn(), and RuntimeHooks::spawn_poller() with `poller`.
  template <class Fn>
  TaskHandle spawn_task(std::string name, Fn&& fn, SpawnOptions options, bool poller);
  Task* allocate_task(std::string name, SpawnOptions options, bool poller);
  // Called first thing on a new task's own stack.
  void enter_task(Task* task, boost::context::fiber&& caller);
  // Called last thing on a task's stack; returns the context to switch to.
  boost::context::fiber finish_task(Task* task, std::exception_ptr error);
  void recycle(Task* task);
  void make_ready(Task* task) {
    task->state_ = Task::State::ready;
    if (task->poller_) ++ready_pollers_;
    (task->domain_ == Domain::thread ? thread_ready_ : loop_ready_).push_back(task);
  }
  // Picks the next task to run (advancing the clock if nothing is ready);
  // returns &main_ when the run is over or has failed.
  Task* pick_next();
  Task* pick_from_ready();
  Task* choose_from_ready();
  void switch_to(Task* from, Task* to);
  void after_switch(Task* self, boost::context::fiber&& caller);
  bool fire_due_timers();
  void stop_run(RunStatus status, std::string report);
  // After stop_run() inside a task: leave for the main context at once.
  void fail_now();
  void dispatch(Task* self);  // self is ready or blocked: run whoever is next
  void collect_blocked(RunResult& result) const;
  // "anyio.Lock 'db' #3 (state)": a waitable as reports name it, appended to
  // `out` (no formatting or allocation of its own beyond the state's text).
  void append_waitable(std::string& out, const Waitable& on) const;
  std::string describe_waitable(const Waitable& on) const;
  std::string describe_blocked() const;
  void unwind_remaining();
  // Spawns a task for each hook of RuntimeHooks::at_loop_shutdown().
  void start_loop_shutdown();
  void scope_remove_task(Task* task);
  void scope_add_task(CancelScope* scope, Task* task);
  ObjectId next_object_id() { return ++object_ids_; }
  std::uint64_t next_scope_id() { return ++scope_ids_; }
  // The current task's innermost cancel scope (nullptr outside any).
  const CancelScope* current_scope();

  // For CancelScope, TaskGroup and TaskHandle.
  void register_scope_deadline(CancelScope& scope);
  void deliver_cancel(CancelScope& scope);
  void join(Task& task);
  void release_handle(Task& task);
  void adopt_into_group(TaskGroup& group, const TaskHandle& handle);
  // True while the task with this id has not finished (reports only; O(tasks)).
  bool is_live(TaskId id) const;

  // What a sleeping task waits on (a timer), for traces and reports.
  class SleepTarget final : public Waitable {
   public:
    std::string_view kind() const override { return "sleep"; }
  };

  SimulationOptions options_;
  Runner& runner_;
  SleepTarget sleep_target_;
  std::unique_ptr<ChoiceSource> owned_source_;
  ChoiceSource* source_;
  Trace trace_;
  DecisionLog log_;

  Task main_;  // the context run() was called from
  Task* current_ = &main_;
  Task* previous_ = nullptr;
  std::deque<Task> tasks_;  // pool, allocated in chunks; index != id
  std::vector<Task*> free_tasks_;
  std::vector<Task*> live_;  // every task not yet done
  // Task names, interned: most tasks share a handful of names, and spawning
  // must not copy a string per task.
  std::vector<std::uint32_t> task_name_ids_;  // by task id
  std::deque<std::string> names_;
  std::map<std::string, std::uint32_t, std::less<>> name_ids_;
  ReadyQueue loop_ready_;
  ReadyQueue thread_ready_;
  std::size_t ready_pollers_ = 0;  // pollers in the two queues above
  std::uint64_t busy_picks_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::map<std::uint64_t, CancelScope*> scopes_with_deadline_;
  std::map<std::string, bool, std::less<>> buggify_sites_;
  std::vector<std::function<void()>> loop_shutdown_;  // RuntimeHooks::at_loop_shutdown()
  std::vector<std::uint64_t> pct_change_points_;      // sorted steps
  std::size_t pct_next_change_ = 0;
  Task* yielded_ = nullptr;  // PCT: the task that just yielded

  Nanoseconds now_ns_ = 0;
  std::uint64_t steps_ = 0;
  std::uint64_t timer_sequence_ = 0;
  std::uint64_t live_non_daemon_ = 0;
  ObjectId object_ids_ = 0;
  std::uint64_t scope_ids_ = 0;
  RunStatus status_ = RunStatus::not_run;
  std::string failure_report_;
  std::exception_ptr failure_error_;
  bool running_ = false;
  bool ran_ = false;
  bool tearing_down_ = false;
  void* asan_main_bottom_ = nullptr;
  std::size_t asan_main_size_ = 0;
  // This OS thread's C++ exception globals, fetched once per run.
  void* eh_globals_ = nullptr;
  Extensions extensions_;  // cleared first thing after the unwind in ~Simulation()
};

// ---- free functions for code running inside a simulation -------------------
inline Nanoseconds now() { return Simulation::current().now(); }
inline void checkpoint() { Simulation::current().checkpoint(); }
inline void sleep(Nanoseconds delay_ns) { Simulation::current().sleep(delay_ns); }
inline std::uint64_t choose(Label where, std::uint64_t n) { return Simulation::current().choose(where, n); }
inline bool buggify(Label site, double probability) {
  return Simulation::current().buggify(site, probability);
}
inline void note(std::string_view what, std::uint64_t value = 0) { Simulation::current().note(what, value); }

}  // namespace asgisim::sim

#include "asgisim/sim/detail/templates.hpp"
