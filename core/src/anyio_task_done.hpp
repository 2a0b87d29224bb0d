// anyio 3's task group (asyncio backend) for the model's own task groups
// (Starlette's StreamingResponse and BaseHTTPMiddleware): the one anyio 3
// group, built on the kernel's (trio's and anyio 4's semantics; task_group.hpp
// says why). Where they differ, the differential test against the real
// Starlette sees it (docs/fidelity.md, "anyio 3's task groups"):
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
//   callback.
// - Delivery retries. cancel() delivers at once to the tasks waiting in the
//   scope (the kernel does that too), then anyio queues
//   _deliver_cancellation again with call_soon, once per pass of the loop,
//   for as long as tasks remain in the scope. A host that waits in the
//   __aexit__ of a nested group while this group is already cancelled is not
//   cancelled at once, as the kernel would: the next retry cancels it, and it
//   wakes one hop after that. The retry is a daemon task of its own
//   (CancelDelivery), so it keeps its place in the ready queue.
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
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "anyio_group_base.hpp"
#include "anyio_scopes.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"
#include "python_exceptions.hpp"

namespace asgisim::core::detail {

class AnyioTaskGroup : public AnyioGroupBase<AnyioTaskGroup> {
 public:
  explicit AnyioTaskGroup(sim::TaskGroup& group) : AnyioGroupBase(group), enclosing_(enclosing_group()) {
    if (enclosing_ != nullptr) ++enclosing_->nested_groups_;
  }
  ~AnyioTaskGroup() {
    if (enclosing_ != nullptr && --enclosing_->nested_groups_ == 0)
      enclosing_->stop_delivery_retries_if_idle();
    if (delivery_ != nullptr) delivery_->active = false;  // left by unwinding: a parked retry stays parked
  }

  // task_group.cancel_scope.cancel(): the host while it is in the body, and
  // every child.
  void cancel() {
    const bool first = !cancel_called_;
    cancel_called_ = true;
    if (body_scope_ != nullptr) body_scope_->cancel();
    for (sim::CancelScope* scope : child_scopes_) scope->cancel();
    // The retries only matter to the host of a nested group (see exit()).
    if (first && nested_groups_ > 0 && (body_scope_ != nullptr || live_children_ > 0))
      start_delivery_retries();
  }

  // `async with`: runs the body in the group's scope, then __aexit__.
  template <class Body>
  void run(Body& body) {
    std::exception_ptr body_error;
    try {
      const bool swallowed = sim::cancel_scope([&](sim::CancelScope& scope) {
        body_scope_ = &scope;
        anyio_scopes()[&scope] = AnyioScopeOwner{this, false};
        if (cancel_called_) scope.cancel();
        // Left however the body ends; a guard, not catch-and-rethrow, so that
        // a Cancelled out of the body is thrown once, not twice.
        struct LeaveBody {
          AnyioTaskGroup& group;
          sim::CancelScope& scope;
          ~LeaveBody() { group.leave_body(scope); }
        } leave{*this, scope};
        return run_group_body(body, *this);
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
    exit(body_error);
  }

 private:
  void leave_body(sim::CancelScope& scope) {
    body_scope_ = nullptr;
    anyio_scopes().erase(&scope);
    stop_delivery_retries_if_idle();
  }

  void start_delivery_retries() {
    delivery_ = std::make_shared<CancelDelivery>();
    CancelDelivery::start(delivery_);
  }

  void stop_delivery_retries_if_idle() {
    if (delivery_ == nullptr || (nested_groups_ > 0 && (body_scope_ != nullptr || live_children_ > 0)))
      return;
    delivery_->active = false;
    delivery_->unpark();
    delivery_.reset();
  }

  // The nearest group whose scope (body or child scope) holds the running
  // task, up to a shield.
  static AnyioTaskGroup* enclosing_group() {
    const auto& scopes = anyio_scopes();
    for (const sim::CancelScope* scope = sim::Simulation::current().runtime_hooks().current_scope();
         scope != nullptr; scope = sim::detail::RuntimeHooks::parent(*scope)) {
      if (auto it = scopes.find(scope); it != scopes.end()) return it->second.group;
      if (scope->shield()) return nullptr;
    }
    return nullptr;
  }

  // The retries of the nearest cancelled anyio group whose scope holds the
  // running task, up to a shield; null if that scope is not a group's.
  static std::shared_ptr<CancelDelivery> enclosing_delivery() {
    const auto& scopes = anyio_scopes();
    for (const sim::CancelScope* scope = sim::Simulation::current().runtime_hooks().current_scope();
         scope != nullptr; scope = sim::detail::RuntimeHooks::parent(*scope)) {
      auto it = scopes.find(scope);
      if (it != scopes.end() && it->second.group->cancel_called_) return it->second.group->delivery_;
      if (scope->cancel_called()) return nullptr;
      if (scope->shield() && (it == scopes.end() || !it->second.child)) return nullptr;
    }
    return nullptr;
  }

  // `await asyncio.wait(self.cancel_scope._tasks)` while an enclosing group
  // is cancelled: woken by the last child's _on_completion (false) or
  // cancelled by that group's next delivery retry (true). When every child
  // left has ended already, asyncio.wait queues _on_completion at once, and
  // the host wakes one hop after it runs, unless a retry cancels it first.
  bool wait_for_children_or_delivery(CancelDelivery& delivery, bool listen, bool& on_completion_queued) {
    sim::Simulation& simulation = sim::Simulation::current();
    sim::Task& host = simulation.current_task();
    sim::Waiter waiter{.task = &host};
    if (listen) {
      delivery.hosts.push_back(waiter);
      delivery.unpark();
    }
    sim::WaiterGuard guard(delivery.hosts, waiter);
    // Whoever may wake the host forgets it once it runs again (or unwinds).
    auto on_completion = std::make_shared<sim::Task*>(nullptr);
    struct Forget {
      AnyioTaskGroup& group;
      std::shared_ptr<sim::Task*>& on_completion;
      ~Forget() {
        group.exit_waiter_ = nullptr;
        *on_completion = nullptr;
      }
    } forget{*this, on_completion};
    // Once per __aexit__: under fifo the ended children's task_done has run
    // by the time the callback wakes the host; another order may keep it
    // queued, and then the host waits for it rather than queue callbacks
    // forever.
    if (!on_completion_queued && children_ending_ > 0 && children_ending_ == live_children_) {
      on_completion_queued = true;
      *on_completion = &host;
      simulation.spawn("asyncio.wait _on_completion", [on_completion] {
        if (*on_completion != nullptr) sim::Simulation::current().wake(**on_completion);
      });
    } else {
      exit_waiter_ = &host;
    }
    return simulation.block(exit_wait_, sim::kNoDeadline, /*cancellable=*/false) ==
           sim::WakeReason::cancelled;
  }

  // TaskGroup.__aexit__ (anyio 3.6.2), the host having left the group's scope.
  void exit(const std::exception_ptr& body_error) {
    if (body_error) {
      cancel();
      errors_.push_back(body_error);
    }
    sim::Simulation& simulation = sim::Simulation::current();
    const sim::detail::RuntimeHooks hooks = simulation.runtime_hooks();
    if (children_ending_ > 0 && enclosing_delivery() == nullptr) {
      simulation.cancel_shielded_checkpoint();  // asyncio.wait's _on_completion for a finished task
      simulation.cancel_shielded_checkpoint();  // the host's wake-up
    }
    bool cancellable = true;
    int spin_passes = 0;
    bool on_completion_queued = false;
    while (live_children_ > 0) {
      children_done_.clear();
      if (std::shared_ptr<CancelDelivery> delivery = enclosing_delivery(); delivery != nullptr) {
        // Woken by every retry, the host would keep the loop busy while its
        // children wait for a timer, and virtual time would never advance:
        // alone, or after kAnyioMaxSpinPasses retries, it waits for them only.
        const bool listen = hooks.busy_others_ready_count() > 0 && spin_passes < kAnyioMaxSpinPasses;
        if (wait_for_children_or_delivery(*delivery, listen, on_completion_queued)) {
          ++spin_passes;
          cancel();  // except CancelledError: self.cancel_scope.cancel()
          cancellable = false;
        }
        continue;
      }
      if (!cancellable) {
        // The enclosing scope that cancelled the host retries its delivery
        // (_deliver_cancellation, call_soon) once per pass of the event loop
        // for as long as the host stays in it, so the host wakes once a pass
        // and sees `self.cancel_scope._tasks` empty as soon as the last
        // task_done has run, before its _on_completion. Alone, it waits
        // instead: asyncio would spin while the wall clock runs, and the
        // kernel's virtual clock advances only when nothing is ready (so
        // two hosts polling each other give up after kAnyioMaxSpinPasses).
        if (hooks.others_ready() && spin_passes++ < kAnyioMaxSpinPasses) {
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
    const std::vector<std::exception_ptr> exceptions =
        anyio_cancel_called_in_chain() ? errors_ : without_cancellations(errors_);
    if (exceptions.size() > 1) {
      if (std::all_of(exceptions.begin(), exceptions.end(), sim::is_cancellation)) throw sim::Cancelled{};
      throw sim::ExceptionGroup(exceptions);
    }
    if (exceptions.size() == 1 && exceptions.front() != body_error)
      std::rethrow_exception(exceptions.front());
    // The group's own cancellation was swallowed by the body's scope: a
    // body error here comes from the body or from outside, and goes on.
    if (body_error) std::rethrow_exception(body_error);
  }

  // TaskGroup._filter_cancellation_errors: cancellations are dropped, inside
  // groups too (a child's group raised while its own parent scope was
  // cancelled keeps them); a group left with one error is replaced by it,
  // one left with none is dropped, one left with several stays as it was.
  static std::vector<std::exception_ptr> without_cancellations(
      const std::vector<std::exception_ptr>& errors) {
    std::vector<std::exception_ptr> kept;
    for (const std::exception_ptr& error : errors) {
      if (sim::is_cancellation(error)) continue;
      const sim::ExceptionGroup* group = exception_group(error);
      if (group == nullptr) {
        kept.push_back(error);
        continue;
      }
      std::vector<std::exception_ptr> inner = without_cancellations(group->exceptions());
      if (inner.size() == 1) {
        kept.push_back(std::move(inner.front()));
      } else if (inner.size() > 1) {
        kept.push_back(error);
      }
    }
    return kept;
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
    if (--live_children_ == 0) {
      children_done_.set();
      if (exit_waiter_ != nullptr) sim::Simulation::current().wake(*exit_waiter_);
      stop_delivery_retries_if_idle();
    }
  }

  template <class Fn>
  void run_in_child_scope(Fn& fn, std::exception_ptr& error) {
    sim::cancel_scope(
        [&](sim::CancelScope& scope) {
          child_scopes_.push_back(&scope);
          anyio_scopes()[&scope] = AnyioScopeOwner{this, true};
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
            // anyio's task_done records it; the child's own scope swallows it
            // when it is the cancelled one (always, but for a Cancelled raised
            // by hand), which leaving normally does without a rethrow.
            forget(scope);
            error = std::current_exception();
            if (!scope.cancel_called()) throw;
            return;
          } catch (...) {
            error = std::current_exception();
          }
          forget(scope);
        },
        sim::kNoDeadline, /*shield=*/true);
  }

  void forget(sim::CancelScope& scope) {
    child_scopes_.erase(std::remove(child_scopes_.begin(), child_scopes_.end(), &scope), child_scopes_.end());
    anyio_scopes().erase(&scope);
  }

  friend class AnyioGroupBase<AnyioTaskGroup>;

  sim::CancelScope* body_scope_ = nullptr;         // while the host runs the body
  std::vector<sim::CancelScope*> child_scopes_{};  // of the children still running
  std::vector<std::exception_ptr> errors_{};
  core::detail::AsyncioEvent children_done_{"anyio task group: children done"};
  // The host in __aexit__ while an enclosing group is cancelled (see exit()).
  struct ExitWait final : sim::Waitable {
    ExitWait() : sim::Waitable("anyio task group: children done") {}
    std::string_view kind() const override { return "asyncio.wait"; }
  } exit_wait_{};
  sim::Task* exit_waiter_ = nullptr;
  std::shared_ptr<CancelDelivery> delivery_{};  // while cancelled and holding tasks
  AnyioTaskGroup* enclosing_ = nullptr;         // the group this one is opened in, if any
  int nested_groups_ = 0;                       // groups opened in this one's scope, still open
  int children_ending_ = 0;                     // ended, done callbacks not yet run
};

}  // namespace asgisim::core::detail
