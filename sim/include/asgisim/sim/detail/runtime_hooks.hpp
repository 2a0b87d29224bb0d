// Kernel hooks for a model layer that implements a runtime of its own on top
// of the kernel: core's anyio 3 model (core/src/anyio_scopes.hpp and
// anyio_task_done.hpp) polls like a callback that queues itself again every
// pass of the loop, and walks cancel scopes by anyio's rules rather than the
// kernel's. A scenario or a primitive never needs them; the public API is
// simulation.hpp.
//
//   sim::detail::RuntimeHooks hooks = sim::Simulation::current().runtime_hooks();
//   hooks.spawn_poller("retry", [] { ... }, {.daemon = true});
//   if (hooks.busy_others_ready_count() > 0) ...
//
// Per-run state of such a layer belongs in Simulation::extension<T>().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task.hpp"

namespace asgisim::sim::detail {

// Where a task's notifications go instead of making it ready (see
// RuntimeHooks::defer_wakes()).
class WakeDeferral {
 public:
  virtual ~WakeDeferral() = default;
  // `task` was notified (not cancelled, not timed out); it stays blocked.
  virtual void deferred(Task& task) = 0;
};

// A view of one Simulation; cheap to make and to copy, valid while it lives.
class RuntimeHooks {
 public:
  explicit RuntimeHooks(Simulation& sim) : sim_(sim) {}

  // ---- pollers ----------------------------------------------------------------
  // A poller stands for a callback that queues itself again every pass, like
  // anyio's cancellation retries. It runs like any task, but the counts a
  // model uses to decide whether anything else can make progress leave it out.
  template <class Fn>
  TaskHandle spawn_poller(std::string name, Fn&& fn, SpawnOptions options = {}) {
    return sim_.spawn_task(std::move(name), std::forward<Fn>(fn), options, /*poller=*/true);
  }
  // Whether a task other than the running one is ready to run: a model that
  // polls with checkpoints (anyio's delivery retries) stops polling when it
  // is alone, so that virtual time can advance.
  bool others_ready() const { return !sim_.loop_ready_.empty() || !sim_.thread_ready_.empty(); }
  // How many tasks other than the running one and other than pollers are
  // ready to run.
  std::size_t busy_others_ready_count() const {
    return sim_.loop_ready_.size() + sim_.thread_ready_.size() - sim_.ready_pollers_;
  }
  // How many times a task that is not a poller was picked to run: a poller
  // that sees it unchanged since its last turn knows that only pollers ran.
  std::uint64_t busy_picks() const { return sim_.busy_picks_; }

  // ---- deferred wake-ups ----------------------------------------------------------
  // A runtime whose own queue orders wake-ups (the bridge's asyncio loop:
  // a waiter resumes when its callback comes up in the loop's ready queue)
  // defers a task's notifications: wake() then calls `deferral` (nullptr
  // ends it) and the runtime makes the task ready later with wake_deferred().
  // Cancellations and deadlines still wake it at once.
  static void defer_wakes(Task& task, WakeDeferral* deferral) { task.deferral_ = deferral; }
  // Makes a task whose wake-up was deferred ready; false when it is no
  // longer blocked (a cancellation woke it meanwhile).
  bool wake_deferred(Task& task) {
    WakeDeferral* deferral = task.deferral_;
    task.deferral_ = nullptr;
    const bool woken = sim_.wake(task);
    task.deferral_ = deferral;
    return woken;
  }

  // ---- the scope chain, for a model's own rules ---------------------------------
  // The running task's innermost cancel scope (nullptr outside any).
  const CancelScope* current_scope() const { return sim_.current_scope(); }
  // The scope `scope` was entered in (a task group's scope for a child
  // task's first scope); nullptr at the top. Lets a model walk the chain by
  // its own rules (anyio 3's _parent_cancelled).
  static const CancelScope* parent(const CancelScope& scope) { return scope.parent_; }
  // Whether the running task is inside a task group: its host, or a child
  // (whose scope chain leads through its group's scope).
  bool inside_task_group() const {
    for (const CancelScope* scope = sim_.current_scope(); scope != nullptr; scope = scope->parent_) {
      if (scope->of_task_group_) return true;
    }
    return false;
  }

  // ---- loop shutdown -----------------------------------------------------------
  // Runs `hook` in a task of its own ("loop.shutdown") once every non-daemon
  // task has finished, before the run completes: what asyncio.run does after
  // its main task (shutdown_asyncgens). Hooks run in the order registered; one
  // registered while the shutdown runs gets a task of its own after it. A run
  // that fails (deadlock, budget, escape) ends without them.
  void at_loop_shutdown(std::function<void()> hook) { sim_.loop_shutdown_.push_back(std::move(hook)); }
  // Whether the run is over and its remaining tasks are being unwound: code
  // that would start new work (a finalizer) does nothing then.
  bool tearing_down() const { return sim_.tearing_down_; }

 private:
  Simulation& sim_;
};

}  // namespace asgisim::sim::detail

namespace asgisim::sim {

inline detail::RuntimeHooks Simulation::runtime_hooks() { return detail::RuntimeHooks(*this); }

}  // namespace asgisim::sim
