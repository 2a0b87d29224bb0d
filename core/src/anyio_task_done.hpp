// anyio 3's task group (asyncio backend), built on the kernel's, for the
// model's own task groups (Starlette's StreamingResponse and
// BaseHTTPMiddleware). Two things differ from the kernel's TaskGroup, and the
// differential test against the real Starlette sees both (docs/fidelity.md,
// "anyio 3's task groups"):
//
// - Reach of a cancellation. anyio 3 delivers a scope's cancellation to the
//   tasks in that scope's own task set: its host and the tasks spawned in it,
//   not the children of task groups nested inside (anyio 4 and the kernel
//   reach those too). Such a child learns of it only when the nested group's
//   host is cancelled and cancels its own group in turn. Each child here runs
//   in a shielded scope of its own, which only this group cancels.
// - Callback hops. asyncio queues a child's done callbacks (anyio's task_done,
//   which cancels the group for an error, and asyncio.wait's _on_completion,
//   which wakes a host waiting in __aexit__); a host that reaches __aexit__
//   while an ended child's callbacks are still queued calls asyncio.wait on a
//   finished task, which costs two more hops; and a child started into a
//   cancelled group first blocks, to be cancelled by anyio's next delivery
//   callback. Once cancelled, a host in __aexit__ is woken by the enclosing
//   scope's delivery retry once per pass of the loop.
// - Parents of a scope. anyio's _parent_cancelled and checkpoint_if_cancelled
//   walk from a child task on to the scope of the group that spawned it; a
//   scope swallows its own cancellation only if no scope on that walk is
//   cancelled too (the kernel's scope, like trio's, always swallows it).
//
//   anyio_task_group([&](AnyioTaskGroup& group) {
//     group.start_soon("child", [&] { work(); group.cancel(); });
//     group.start_soon("waiter", [&] { group.cancelled_wait_hop(); event.wait(); });
//     body();
//   });
//
// Errors follow anyio 3: one error is raised as it is, several as an
// ExceptionGroup in the order they happened; cancellations are dropped.
#pragma once

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <exception>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/core/server.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"

namespace asgisim::core::detail {

// The kernel scopes that stand for anyio's delivery reach: each child of an
// AnyioTaskGroup runs in a shielded scope of its own (see above). Only
// membership is asked, never the order, so a set keyed by address is
// deterministic; it keeps 100k live connections from costing O(n^2).
inline std::set<const sim::CancelScope*>& anyio_child_scopes() {
  thread_local std::set<const sim::CancelScope*> scopes;
  return scopes;
}

// anyio 3's walk up a task's cancel scopes (CancelScope._parent_cancelled,
// checkpoint_if_cancelled): is any scope cancelled, up to a real shield?
// Unlike delivery, the walk goes on from a child task to the scope of the
// group that spawned it (anyio links them by _parent_scope), so it passes the
// shields of the child scopes; the kernel's own rule stops there.
inline bool anyio_cancel_called_in_chain() {
  const std::set<const sim::CancelScope*>& child_scopes = anyio_child_scopes();
  for (const sim::CancelScope* scope = sim::Simulation::current().current_scope(); scope != nullptr;
       scope = scope->parent()) {
    if (scope->cancel_called()) return true;
    const bool child_scope = child_scopes.contains(scope);
    if (scope->shield() && !child_scope) return false;
  }
  return false;
}

// anyio 3's checkpoint_if_cancelled: sleep(0) again and again while a scope
// of the chain is cancelled, until the cancellation reaches the task (the
// kernel's checkpoint raises then). Only another task can bring it; alone,
// the task goes on rather than spin with the virtual clock stopped.
// asyncio spins with its wall clock running; the virtual clock stands still
// while anything is ready, so two such spinners would keep each other (and
// the timers that could end their wait) from ever moving on. A spinner
// therefore gives up after this many loop passes and goes on (or waits),
// far more passes than any cancellation needs to arrive.
inline constexpr int kAnyioMaxSpinPasses = 64;

inline void anyio_checkpoint_if_cancelled() {
  sim::Simulation& simulation = sim::Simulation::current();
  for (int pass = 0; pass < kAnyioMaxSpinPasses && anyio_cancel_called_in_chain() && simulation.others_ready();
       ++pass) {
    simulation.checkpoint();
  }
}

class AnyioTaskGroup {
 public:
  explicit AnyioTaskGroup(sim::TaskGroup& group) : group_(group) {}
  AnyioTaskGroup(const AnyioTaskGroup&) = delete;
  AnyioTaskGroup& operator=(const AnyioTaskGroup&) = delete;

  // task_group.cancel_scope.cancel(): the host while it is in the body, and
  // every child.
  void cancel() {
    cancel_called_ = true;
    if (body_scope_ != nullptr) body_scope_->cancel();
    for (sim::CancelScope* scope : child_scopes_) scope->cancel();
  }
  bool cancel_called() const { return cancel_called_; }

  template <class Fn>
  void start_soon(std::string name, Fn&& fn) {
    ++live_children_;
    group_.start_soon(std::move(name), [this, fn = std::forward<Fn>(fn)]() mutable { run_child(fn); });
  }

  // The delivery hop of a child that starts in a cancelled group and waits at once.
  void cancelled_wait_hop() {
    if (cancel_called_) sim::Simulation::current().cancel_shielded_checkpoint();
  }

  // `async with`: runs the body in the group's scope, then __aexit__.
  template <class Body>
  void run(Body& body) {
    std::exception_ptr body_error;
    try {
      const bool swallowed = sim::cancel_scope([&](sim::CancelScope& scope) {
        body_scope_ = &scope;
        if (cancel_called_) scope.cancel();
        body(*this);
        body_scope_ = nullptr;
      });
      // anyio's CancelScope.__exit__ swallows its own cancellation only when
      // no enclosing scope is cancelled too (_parent_cancelled); otherwise the
      // CancelledError goes on through __aexit__ at once. The kernel's scope
      // (trio) swallows it and lets the next checkpoint raise the outer one,
      // which would let the code after the group (a background task) start.
      if (swallowed && anyio_cancel_called_in_chain()) {
        body_error = std::make_exception_ptr(sim::Cancelled{});
      }
    } catch (const sim::TaskUnwound&) {
      throw;
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
      body_error = std::current_exception();
    }
    body_scope_ = nullptr;
    exit(body_error);
  }

 private:
  // TaskGroup.__aexit__ (anyio 3.6.2), the host having left the group's scope.
  void exit(const std::exception_ptr& body_error) {
    if (body_error) {
      cancel();
      errors_.push_back(body_error);
    }
    sim::Simulation& simulation = sim::Simulation::current();
    if (children_ending_ > 0) {
      simulation.cancel_shielded_checkpoint();  // asyncio.wait's _on_completion for a finished task
      simulation.cancel_shielded_checkpoint();  // the host's wake-up
    }
    bool cancellable = true;
    int spin_passes = 0;
    while (live_children_ > 0) {
      children_done_.clear();
      if (!cancellable) {
        // The enclosing scope that cancelled the host retries its delivery
        // (_deliver_cancellation, call_soon) once per pass of the event loop
        // for as long as the host stays in it, so the host wakes once a pass
        // and sees `self.cancel_scope._tasks` empty as soon as the last
        // task_done has run, before its _on_completion. Alone, it waits
        // instead: asyncio would spin while the wall clock runs, and the
        // kernel's virtual clock advances only when nothing is ready (so
        // two hosts polling each other give up after kAnyioMaxSpinPasses).
        if (simulation.others_ready() && spin_passes++ < kAnyioMaxSpinPasses) {
          simulation.cancel_shielded_checkpoint();
        } else {
          sim::shielded([&] { children_done_.wait(); });
        }
        continue;
      }
      try {
        children_done_.wait();
      } catch (const sim::Cancelled&) {
        // `except CancelledError: self.cancel_scope.cancel()`; the outer
        // cancellation is retried at every loop iteration: wait on, shielded.
        cancel();
        cancellable = false;
      }
    }
    // Cancellations are dropped unless an enclosing scope is cancelled
    // (_parent_cancelled), in which case they are raised like any error.
    std::vector<std::exception_ptr> exceptions;
    const bool parent_cancelled = anyio_cancel_called_in_chain();
    for (const std::exception_ptr& error : errors_) {
      if (parent_cancelled || !is_cancellation(error)) exceptions.push_back(error);
    }
    if (exceptions.size() > 1) {
      if (std::all_of(exceptions.begin(), exceptions.end(), is_cancellation)) throw sim::Cancelled{};
      throw sim::ExceptionGroup(exceptions);
    }
    if (exceptions.size() == 1 && exceptions.front() != body_error) std::rethrow_exception(exceptions.front());
    // The group's own cancellation was swallowed by the body's scope: a
    // body error here comes from the body or from outside, and goes on.
    if (body_error) std::rethrow_exception(body_error);
  }

  template <class Fn>
  void run_child(Fn& fn) {
    std::exception_ptr error;
    try {
      run_in_child_scope(fn, error);
    } catch (const sim::Cancelled&) {
      // Only this group cancels a child (its scope is shielded), and that
      // scope swallows its own cancellation; kept for safety all the same.
      error = std::current_exception();
    }
    // task_done and _on_completion are queued when the child ends and run back
    // to back: one hop, after which the error cancels the group (task_done)
    // and a waiting host is woken (_on_completion).
    ++children_ending_;
    sim::Simulation::current().cancel_shielded_checkpoint();
    --children_ending_;
    if (error) {  // task_done: an exception, cancellation included, cancels the group
      errors_.push_back(error);
      cancel();
    }
    if (--live_children_ == 0) children_done_.set();
  }

  template <class Fn>
  void run_in_child_scope(Fn& fn, std::exception_ptr& error) {
    sim::cancel_scope(
        [&](sim::CancelScope& scope) {
          child_scopes_.push_back(&scope);
          anyio_child_scopes().insert(&scope);
          if (cancel_called_) scope.cancel();
          try {
            fn();
          } catch (const sim::TaskUnwound&) {
            forget(scope);
            throw;
          } catch (const boost::context::detail::forced_unwind&) {
            forget(scope);
            throw;
          } catch (const sim::Cancelled&) {
            // The child's own scope swallows it; anyio's task_done records it.
            forget(scope);
            error = std::current_exception();
            throw;
          } catch (...) {
            error = std::current_exception();
          }
          forget(scope);
        },
        sim::kNoDeadline, /*shield=*/true);
  }

  void forget(sim::CancelScope& scope) {
    child_scopes_.erase(std::remove(child_scopes_.begin(), child_scopes_.end(), &scope), child_scopes_.end());
    anyio_child_scopes().erase(&scope);
  }

  static bool is_cancellation(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const sim::Cancelled&) {
      return true;
    } catch (...) {
      return false;
    }
  }

  sim::TaskGroup& group_;
  sim::CancelScope* body_scope_ = nullptr;  // while the host runs the body
  std::vector<sim::CancelScope*> child_scopes_{};  // of the children still running
  std::vector<std::exception_ptr> errors_{};
  core::detail::AsyncioEvent children_done_{"anyio task group: children done"};
  int live_children_ = 0;
  int children_ending_ = 0;  // ended, done callbacks not yet run
  bool cancel_called_ = false;
};

// `async with anyio.create_task_group() as group: body(group)`.
template <class Body>
void anyio_task_group(Body&& body) {
  // A CancelledError that __aexit__ lets through (an enclosing scope is
  // cancelled, by anyio's rule) goes past the kernel's group, whose own scope
  // would swallow it: its rule stops at the shields of the child scopes.
  bool cancelled = false;
  sim::task_group([&](sim::TaskGroup& kernel_group) {
    AnyioTaskGroup group(kernel_group);
    try {
      group.run(body);
    } catch (const sim::Cancelled&) {
      cancelled = true;
    }
  });
  if (cancelled) throw sim::Cancelled{};
}

}  // namespace asgisim::core::detail
